import Logging
import Metrics
import Synchronization
import VigilCore

/// Where every ingest source reports input it could not use: counted in
/// `vigil_ingest_rejected_total{source,reason}`, logged (rate-limited per source and reason) with
/// a short preview of the payload, and kept in a ring of the last 100 for the console
/// (`/api/v1/ingest/rejects`). One per gateway, shared by every source.
public final class IngestRejects: Sendable {
    public struct Record: Sendable, Equatable {
        public let timeMs: Int64
        public let source: String
        public let reason: PayloadReject
        public let topic: String
        public let preview: String
    }

    public static let kept = 100

    let logger: Logger
    let limiter: RateLimiter
    /// Every refusal is also a line of its source's ledger.
    public let ledger: IngestLedger
    private let ring = Mutex((records: [Record](), next: 0))
    private let count = Atomic<UInt64>(0)

    /// Every reject since start (the self-alert on reject rates watches it).
    public var total: UInt64 { count.load(ordering: .relaxed) }

    public init(logger: Logger, limiter: RateLimiter = RateLimiter(burst: 5, window: .seconds(60)),
                ledger: IngestLedger = IngestLedger()) {
        self.logger = logger
        self.limiter = limiter
        self.ledger = ledger
    }

    public func record(source: String, reason: PayloadReject, topic: String, payload: [UInt8]) {
        Counter(label: "vigil_ingest_rejected_total", dimensions: [("source", source), ("reason", reason.rawValue)])
            .increment()
        count.add(1, ordering: .relaxed)
        ledger.refusedAtIngest(source, reason: reason.rawValue)
        let preview = Self.preview(payload)
        let record = Record(timeMs: WallClock.nowMs(), source: source, reason: reason, topic: topic, preview: preview)
        ring.withLock { ring in
            if ring.records.count < Self.kept {
                ring.records.append(record)
            } else {
                ring.records[ring.next] = record
            }
            ring.next = (ring.next + 1) % Self.kept
        }
        let decision = limiter.check("\(source)|\(reason.rawValue)")
        guard decision.emit else { return }
        var metadata: Logger.Metadata = [
            "source": "\(source)", "reason": "\(reason.rawValue)", "topic": "\(topic)", "payload": "\(preview)",
        ]
        if decision.suppressed > 0 { metadata["suppressed"] = "\(decision.suppressed)" }
        logger.warning("rejected message: \(reason.explanation)", metadata: metadata)
    }

    /// The last 100 rejects, newest first.
    public func recent() -> [Record] {
        ring.withLock { ring in
            guard ring.records.count == Self.kept else { return ring.records.reversed() }
            return (ring.records[ring.next...] + ring.records[..<ring.next]).reversed()
        }
    }

    /// At most 64 bytes, control and non-UTF-8 bytes escaped, so a log line stays one readable line.
    public static func preview(_ payload: [UInt8], limit: Int = 64) -> String {
        var out = ""
        for byte in payload.prefix(limit) {
            if byte >= 0x20, byte < 0x7F, byte != UInt8(ascii: "\\") {
                out.append(Character(Unicode.Scalar(byte)))
            } else {
                out += "\\x" + String(byte, radix: 16, uppercase: false).leftPadded(to: 2)
            }
        }
        if payload.count > limit { out += "… (\(payload.count) bytes)" }
        return out
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

extension ReadingBus {
    /// Puts `source`'s readings on the bus and counts them as received in its ledger.
    func publish(_ readings: [Reading], source: String, ledger: IngestLedger) {
        guard !readings.isEmpty else { return }
        ledger.published(source, readings.count)
        publish(readings, source: source)
    }
}
