#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import Synchronization
import VigilAlerts
import VigilCore
import VigilLive
import VigilIngest

/// The readings the gateway makes about itself each alert evaluation, for the built-in self-alerts
/// (`SelfAlertRules`): source up/down, the reject counter, free space on the store's disk, the
/// outbox's oldest waiting notification, and live clients dropped for being too slow.
struct SelfReadings: Sendable {
    let board: SourceStatusBoard
    let rejects: IngestRejects
    let hub: LiveHub
    let storeDirectory: String
    let center: AlertCenter

    func callAsFunction(_ now: Int64) -> [Reading] {
        var out: [Reading] = []
        for source in board.snapshot() where source.state != .stopped {  // stopped: the gateway is shutting down
            out.append(Reading(metric: SelfAlertRules.sourceUp, labels: Labels(["source": source.name]), timestampMs: now,
                               value: source.state == .connected ? 1 : 0))
        }
        out.append(Reading(metric: SelfAlertRules.rejectedTotal, timestampMs: now, value: Double(rejects.total)))
        if let ratio = Self.freeRatio(storeDirectory) {
            out.append(Reading(metric: SelfAlertRules.diskFreeRatio, labels: Labels(["path": storeDirectory]), timestampMs: now, value: ratio))
        }
        for statistics in center.outboxStatistics(now: now) {
            out.append(Reading(metric: SelfAlertRules.outboxOldestAge, labels: Labels(["notifier": statistics.notifier]),
                               timestampMs: now, value: statistics.oldestAgeSeconds, unit: "s"))
        }
        out.append(Reading(metric: SelfAlertRules.liveDroppedTotal, timestampMs: now,
                           value: Double(hub.droppedClients.load(ordering: .relaxed))))
        return out
    }

    /// Free space for unprivileged writers over the file system's size, or nil if it cannot be read.
    static func freeRatio(_ directory: String) -> Double? {
        var info = statvfs()
        guard statvfs(directory, &info) == 0, info.f_blocks > 0 else { return nil }
        return Double(info.f_bavail) / Double(info.f_blocks)
    }
}
