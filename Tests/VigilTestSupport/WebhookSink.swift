import Foundation

/// scripts/webhook_sink.py on loopback: every POST it receives, as parsed JSON lines.
public final class WebhookSink: Sendable {
    public let process: ManagedProcess
    public let port: Int
    public let host: String
    public let output: String
    public let scheme: String
    public let directory: TemporaryDirectory

    /// `tls`: serve HTTPS with this certificate and key; `keepAlive`: HTTP/1.1 with connections kept
    /// open (each record's `peer` is the client's port); `delay`: seconds before each answer.
    public init(port requested: Int? = nil, secret: String? = nil, output shared: String? = nil, host: String = "127.0.0.1",
                tls: (certificate: String, key: String)? = nil, keepAlive: Bool = false, delay: Double = 0) async throws {
        directory = try TemporaryDirectory("webhook")
        let python = try TestEnvironment.tool("python3", package: "python3")
        let script = TestEnvironment.packageRoot.appendingPathComponent("scripts/webhook_sink.py").path
        port = requested ?? TestEnvironment.freePort()
        output = shared ?? directory.path("received.jsonl")
        self.host = host
        var arguments = [script, "--host", host, "--port", "\(port)", "--out", output]
        if let secret { arguments += ["--secret", secret] }
        if let tls { arguments += ["--tls-cert", tls.certificate, "--tls-key", tls.key] }
        if keepAlive { arguments.append("--keep-alive") }
        if delay > 0 { arguments += ["--delay", "\(delay)"] }
        scheme = tls == nil ? "http" : "https"
        process = try ManagedProcess(python, arguments, directory: directory, name: "webhook-sink")
        _ = try await process.waitForOutput(containing: "listening")
    }

    public var url: String { "\(scheme)://\(host):\(port)/hook" }

    public func records() -> [[String: Any]] {
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// Waits until at least `count` requests arrived.
    @discardableResult
    public func waitFor(_ count: Int, timeout: Duration = .seconds(15)) async throws -> [[String: Any]] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let received = records()
            if received.count >= count { return received }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("webhook received \(records().count) of \(count) requests in \(timeout)")
    }

    public func stop() { process.stop() }
}

