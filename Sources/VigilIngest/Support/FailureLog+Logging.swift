import Logging
import VigilCore

extension FailureLog {
    /// Logs a connection failure as `FailureLog` decides: "<reason>; retrying with backoff".
    public func report(_ reason: String, to logger: Logger) {
        guard let line = failed(reason) else { return }
        var metadata: Logger.Metadata = [:]
        if line.repeats > 0 { metadata["failed_attempts_since_last_log"] = "\(line.repeats)" }
        logger.warning("\(reason); retrying with backoff", metadata: metadata)
    }
}
