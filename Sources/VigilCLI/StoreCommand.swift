import ArgumentParser
import FoundationEssentials
import VigilCore
import VigilServer
import VigilStore

struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Inspect and maintain the metric store.",
        subcommands: [StoreStatsCommand.self, StoreMaintainCommand.self])
}

struct StoreStatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Series, samples, bytes on disk and time range of the store (read-only).",
        discussion: """
            Examples:
              vigil store stats --data-dir /var/lib/vigil
              vigil store stats --config /etc/vigil/vigil.yaml --json
            """)

    @OptionGroup var location: StoreLocation

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() throws {
        let stats: StoreStats
        let path: String
        do {
            let store = try location.openReadOnly()
            path = store.options.path
            stats = try store.stats()
        } catch {
            Terminal.fail("vigil store stats: \(error)")
        }
        if json {
            print("""
                {"path":"\(JSONText.escape(path))","series":\(stats.series),"samples":\(stats.samples),\
                "bytes_on_disk":\(stats.bytesOnDisk),"free_bytes":\(stats.freeBytes),"bytes_per_sample":\(stats.bytesPerSample.fixed(3)),\
                "chunks":\(stats.chunks),"rollup_blobs":\(stats.rollupBlobs),\
                "oldest_ms":\(stats.oldestMs.map(String.init) ?? "null"),"newest_ms":\(stats.newestMs.map(String.init) ?? "null")}
                """)
            return
        }
        func time(_ ms: Int64?) -> String { ms.map(RFC3339.format) ?? "-" }
        print("""
            store:          \(path)
            series:         \(stats.series)
            samples:        \(stats.samples)
            bytes on disk:  \(stats.bytesOnDisk) (\((Double(stats.bytesOnDisk) / 1_048_576).fixed(1)) MiB, \
            \(stats.bytesPerSample.fixed(3)) bytes/sample)
            free:           \(stats.freeBytes) bytes in free pages (reused by later writes)
            chunks:         \(stats.chunks) raw, \(stats.rollupBlobs) rollup blobs
            oldest sample:  \(time(stats.oldestMs))
            newest sample:  \(time(stats.newestMs))
            """)
    }
}
