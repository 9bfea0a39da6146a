import Synchronization

/// Where every reading a source received went, per source:
///
///     received = stored + duplicate + Σ refused{reason} + Σ dropped{reason}   (+ in flight)
///
/// Sources count what they receive: each reading they put on the bus and each part of a message
/// they refuse (`IngestRejects`). The store's consumer settles what the bus delivered: stored,
/// replaced at the same time (`duplicate`), refused by the store, or dropped before it (a lagging
/// queue). While readings wait on the bus the difference is `inFlight`; when ingest is quiet it is
/// zero, and the equation holds exactly. Exported in /metrics (`vigil_ingest_ledger_total`) and in
/// `/api/v1/sources`.
public final class IngestLedger: Sendable {
    public struct Entry: Sendable, Equatable {
        public var received: UInt64 = 0
        public var stored: UInt64 = 0
        public var duplicate: UInt64 = 0
        public var refused: [String: UInt64] = [:]
        public var dropped: [String: UInt64] = [:]

        public init() {}

        /// Received and not yet settled: waiting on the bus or in the store's consumer.
        public var inFlight: Int64 {
            Int64(bitPattern: received &- stored &- duplicate &- refused.values.reduce(0, &+) &- dropped.values.reduce(0, &+))
        }
    }

    private let entries = Mutex([String: Entry]())

    public init() {}

    /// `count` readings of `source` went on the bus.
    public func published(_ source: String, _ count: Int) {
        guard count > 0 else { return }
        entries.withLock { $0[source, default: Entry()].received &+= UInt64(count) }
    }

    /// One part of a message from `source` was refused before the bus (`reason` as in
    /// `vigil_ingest_rejected_total`); a `duplicate` reason counts as a duplicate.
    public func refusedAtIngest(_ source: String, reason: String) {
        entries.withLock { entries in
            entries[source, default: Entry()].received &+= 1
            if reason == "duplicate" {
                entries[source, default: Entry()].duplicate &+= 1
            } else {
                entries[source, default: Entry()].refused[reason, default: 0] &+= 1
            }
        }
    }

    /// What became of readings of `source` that the bus delivered to the store (or dropped).
    public func settled(_ source: String, stored: Int = 0, duplicate: Int = 0, refused: [(String, Int)] = [],
                        dropped: [(String, Int)] = []) {
        entries.withLock { entries in
            var entry = entries[source, default: Entry()]
            entry.stored &+= UInt64(max(0, stored))
            entry.duplicate &+= UInt64(max(0, duplicate))
            for (reason, count) in refused where count > 0 { entry.refused[reason, default: 0] &+= UInt64(count) }
            for (reason, count) in dropped where count > 0 { entry.dropped[reason, default: 0] &+= UInt64(count) }
            entries[source] = entry
        }
    }

    public func snapshot() -> [String: Entry] { entries.withLock { $0 } }
}
