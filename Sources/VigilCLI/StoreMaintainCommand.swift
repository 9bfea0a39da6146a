import ArgumentParser
import FoundationEssentials
import VigilCore
import VigilServer
import VigilStore

/// `vigil store maintain`: what the gateway does in small slices in the background, all at once
/// on a stopped store (before a backup, after changing retention, or to finish work a crash
/// interrupted).
struct StoreMaintainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "maintain",
        abstract: "Compact, roll up, apply retention and give free pages back, all at once (gateway stopped).",
        discussion: """
            The gateway does the same work in small slices in the background. Run this on a stopped
            gateway's store, for example after lowering store.retention, before copying the data
            directory, or to finish work a crash interrupted (the store is consistent either way:
            every step is a transaction). Progress goes to standard error, one line per phase.

            Examples:
              vigil store maintain --config /etc/vigil/vigil.yaml
              vigil store maintain --data-dir /var/lib/vigil
            """)

    @OptionGroup var location: StoreLocation

    func run() throws {
        let (store, _, lock) = location.openForWriting("store maintain")
        defer { lock.release() }
        let started = ContinuousClock.now
        do {
            let before = try store.stats()
            Terminal.printError("compacting")
            try store.compactAll()
            Terminal.printError("rolling up")
            try store.rollUpAll()
            Terminal.printError("applying retention")
            var (chunks, rollups) = (0, 0)
            var more = true
            while more {
                let slice = try store.applyRetention(maxRows: 2000)
                (chunks, rollups, more) = (chunks + slice.chunksDeleted, rollups + slice.rollupsDeleted, slice.more)
            }
            Terminal.printError("reclaiming free pages")
            let reclaimed = try store.reclaimFreePages(maxPages: nil, everything: true)
            let after = try store.stats()
            Terminal.printError("maintained in \((ContinuousClock.now - started).inSeconds.fixed(1)) s: \(chunks) chunks and \(rollups) rollups "
                                + "deleted by retention, \(reclaimed) bytes given back; \(before.bytesOnDisk) → \(after.bytesOnDisk) bytes on disk, "
                                + "\(after.samples) samples")
        } catch {
            Terminal.fail("vigil store maintain: \(error)")
        }
    }
}
