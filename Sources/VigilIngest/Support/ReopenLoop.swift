import Logging
import VigilCore

/// The loop of a source that owns a device (a serial port, a Modbus port or TCP connection), run
/// on its `DedicatedThread`: open it, retrying with a capped backoff (logged as `FailureLog` decides);
/// serve it until it goes away; then open it again, until a stop is requested. The source's state
/// on the status board follows: connected while open, disconnected with the reason otherwise.
struct ReopenLoop {
    /// Names the device in log lines: "serial device", "Modbus bus".
    let what: String
    let sourceName: String
    let board: SourceStatusBoard
    let logger: Logger
    var metadata: Logger.Metadata = [:]
    let maximumBackoff: Duration

    /// `serve` returns why the device went away.
    func run<Link>(on thread: DedicatedThread, openedMetadata: Logger.Metadata = [:], open: () throws -> Link,
                   serve: (Link) -> String) {
        var backoff = ReconnectBackoff(minimum: .milliseconds(100), maximum: maximumBackoff)
        let failures = FailureLog()
        while !thread.stopping {
            let link: Link
            do {
                link = try open()
            } catch {
                let reason = "\(error)"
                if let line = failures.failed(reason) {
                    var details = metadata.merging(["reason": "\(reason)"]) { $1 }
                    if line.repeats > 0 { details["failed_attempts_since_last_log"] = "\(line.repeats)" }
                    logger.warning("\(what) unavailable, retrying", metadata: details)
                }
                board.update(sourceName) { $0.state = .disconnected; $0.detail = reason }
                thread.sleep(for: backoff.nextDelay())
                continue
            }
            failures.recovered()
            backoff.reset()
            logger.info("\(what) open", metadata: metadata.merging(openedMetadata) { $1 })
            board.update(sourceName) { $0.state = .connected; $0.detail = "" }
            let reason = serve(link)
            guard !thread.stopping else { break }
            logger.warning("\(what) lost, reopening", metadata: metadata.merging(["reason": "\(reason)"]) { $1 })
            board.update(sourceName) { $0.state = .disconnected; $0.detail = reason }
            thread.sleep(for: backoff.nextDelay())
        }
    }
}
