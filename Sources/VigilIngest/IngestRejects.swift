import Logging
import Metrics
import VigilCore

/// Where every ingest source reports input it could not use: counted in
/// `vigil_ingest_rejected_total{source,reason}` and logged, rate-limited per source and reason,
/// with a short preview of the offending payload.
public struct IngestRejects: Sendable {
    let logger: Logger
    let limiter: RateLimiter

    public init(logger: Logger, limiter: RateLimiter = RateLimiter(burst: 5, window: .seconds(60))) {
        self.logger = logger
        self.limiter = limiter
    }

    public func record(source: String, reason: PayloadReject, topic: String, payload: [UInt8]) {
        Counter(label: "vigil_ingest_rejected_total", dimensions: [("source", source), ("reason", reason.rawValue)])
            .increment()
        let decision = limiter.check("\(source)|\(reason.rawValue)")
        guard decision.emit else { return }
        var metadata: Logger.Metadata = [
            "source": "\(source)", "reason": "\(reason.rawValue)", "topic": "\(topic)",
            "payload": "\(Self.preview(payload))",
        ]
        if decision.suppressed > 0 { metadata["suppressed"] = "\(decision.suppressed)" }
        logger.warning("rejected message: \(reason.explanation)", metadata: metadata)
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
