import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
import VigilTestSupport

/// The HTTPS/WSS listener's TLS (OpenSSL 3), probed from outside with other implementations:
/// `openssl s_client` for the protocol policy, raw sockets and Python's `ssl` for hostile records,
/// and the live console client (NIOSSL, BoringSSL) across a certificate reload.
@Suite("TLS on the listener, end to end", .serialized)
struct TLSEndToEndTests {
    static func startGateway(_ directory: TemporaryDirectory) async throws -> RunningGateway {
        let config = try directory.write("vigil.yaml", """
            data_dir: ${VIGIL_DATA_DIR}
            http:
              listen: 127.0.0.1:0
              handshake_timeout: 2s
            auth:
              tokens: [{name: probe, sha256: \(TestCredentials.tokenSHA256("vgl_tls_probe_0123456789")), role: viewer}]
            logging: {ingest_summary: 0}
            """)
        return try await RunningGateway(mqttURL: "mqtt://127.0.0.1:1", config: config)
    }

    /// scripts/tls_probe.py: Python's own TLS client, misbehaving on purpose.
    static var probe: String { TestEnvironment.packageRoot.appendingPathComponent("scripts/tls_probe.py").path }

    /// `openssl s_client` with `arguments`; its output (stdout and stderr) and exit status.
    static func sClient(port: Int, _ arguments: [String]) async throws -> (output: String, status: Int32) {
        let openssl = try TestEnvironment.tool("openssl", package: "openssl")
        let scratch = try TemporaryDirectory("s_client")
        let process = try ManagedProcess(openssl, ["s_client", "-connect", "127.0.0.1:\(port)"] + arguments,
                                         directory: scratch, name: "s_client")
        let status = try await process.finish(timeout: .seconds(20))
        return (process.stdout + process.stderr, status)
    }

    @Test func onlyTLS12And13WithStrongSuitesAreAccepted() async throws {
        let directory = try TemporaryDirectory("vigil-tls")
        let gateway = try await Self.startGateway(directory)
        defer { gateway.process.stop() }
        let port = try #require(URLComponents(string: gateway.baseURL)?.port)
        // Old protocol versions, offered by a client that allows them (SECLEVEL=0).
        for version in ["-tls1", "-tls1_1"] {
            let old = try await Self.sClient(port: port, [version, "-cipher", "DEFAULT:@SECLEVEL=0"])
            #expect(old.status != 0 && old.output.contains("Cipher is (NONE)"), "\(version): \(old.output)")
        }
        // TLS 1.2 without forward secrecy or without AEAD.
        for cipher in ["AES128-GCM-SHA256", "ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384"] {
            let weak = try await Self.sClient(port: port, ["-tls1_2", "-cipher", cipher + ":@SECLEVEL=0"])
            #expect(weak.status != 0 && weak.output.contains("Cipher is (NONE)"), "\(cipher): \(weak.output)")
        }
        let tls12 = try await Self.sClient(port: port, ["-tls1_2", "-alpn", "h2,http/1.1"])
        #expect(tls12.output.contains("New, TLSv1.2, Cipher is ECDHE-ECDSA-"), "\(tls12.output)")
        #expect(tls12.output.contains("ALPN protocol: http/1.1"))
        let tls13 = try await Self.sClient(port: port, ["-tls1_3"])
        #expect(tls13.output.contains("New, TLSv1.3, Cipher is TLS_"), "\(tls13.output)")
        // A client offering only h2 is not refused: it gets HTTP/1.1 without ALPN.
        let h2Only = try await Self.sClient(port: port, ["-alpn", "h2"])
        #expect(h2Only.output.contains("No ALPN negotiated") && h2Only.output.contains("New, TLSv1.3"), "\(h2Only.output)")

        #expect(try await gateway.metric(#"vigil_tls_failures_total{reason="protocol_version"}"#) == 2)
        #expect(try await gateway.metric(#"vigil_tls_failures_total{reason="no_shared_cipher"}"#) == 3)
        #expect(try await gateway.metric("vigil_tls_handshakes_total")! >= 3)
    }

    /// A client whose Finished arrives on its own, its request a moment later (OpenSSL's own
    /// client does this: SSL_connect returns, then the application writes). Hummingbird reads only
    /// when asked; the handshake must ask for the next bytes itself. Before it did, such a client
    /// waited forever for an answer (found with the shared fan-out client: 3 of 4 consoles stuck).
    @Test func aRequestThatFollowsTheFinishedLaterIsServed() async throws {
        let directory = try TemporaryDirectory("vigil-tls")
        let gateway = try await Self.startGateway(directory)
        defer { gateway.process.stop() }
        let port = try #require(URLComponents(string: gateway.baseURL)?.port)
        let python = try TestEnvironment.tool("python3", package: "python3")
        let client = try ManagedProcess(python, [Self.probe, "split", "\(port)"], directory: directory, name: "tls-split")
        #expect(try await client.finish(timeout: .seconds(60)) == 0, "\(client.stderr)")
        #expect(client.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                    == Array(repeating: "HTTP/1.1 200 OK", count: 5).joined(separator: "|"), "\(client.stdout)")
    }

    @Test func hostileRecordsNeverCrashTheGateway() async throws {
        let directory = try TemporaryDirectory("vigil-tls")
        let gateway = try await Self.startGateway(directory)
        defer { gateway.process.stop() }
        let port = try #require(URLComponents(string: gateway.baseURL)?.port)
        var random = Fuzz.generator("tls-records")
        var pieces: [[UInt8]] = [
            [0x16, 0x03, 0x01, 0xFF, 0xFF] + [UInt8](repeating: 0x41, count: 1000),  // a record longer than TLS allows
            [0x17, 0x03, 0x03, 0x00, 0x10] + [UInt8](repeating: 0, count: 16),        // application data before any handshake
            [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03],        // a ClientHello cut short
            Array("SSH-2.0-OpenSSH_9.2\r\n".utf8),
        ]
        for _ in 0..<40 {
            // Random bytes, half of them behind a plausible handshake record header.
            var bytes = (0..<Int.random(in: 1...3000, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            if Bool.random(using: &random) { bytes = [0x16, 0x03, 0x01, UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes }
            pieces.append(bytes)
        }
        for piece in pieces {
            let exchange = try await RawHTTP.exchange(port: port, [piece], timeout: .seconds(4))
            #expect(exchange.closed, "the gateway left a connection open after \(piece.prefix(8))")
        }
        // Plain HTTP to the HTTPS port is told what to do instead.
        let plain = try await RawHTTP.exchange(port: port, [Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)])
        #expect(plain.status == 400 && plain.answer.contains("use https://"), "\(plain.answer)")
        // A connection that never says anything is closed after http.handshake_timeout.
        let silent = try await RawHTTP.exchange(port: port, [], timeout: .seconds(6))
        #expect(silent.closed && silent.elapsed < .seconds(5))

        // Garbage after a complete handshake (Python's own TLS client on memory BIOs).
        let python = try TestEnvironment.tool("python3", package: "python3")
        let runner = try ManagedProcess(python, [Self.probe, "garbage", "\(port)"], directory: directory, name: "tls-garbage")
        #expect(try await runner.finish(timeout: .seconds(60)) == 0, "\(runner.stderr)")
        #expect(runner.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "closed closed closed closed closed", "\(runner.stdout)")

        #expect(gateway.process.isRunning)
        #expect(try await gateway.get("/healthz").status == 200)
        #expect(try await gateway.metric(#"vigil_tls_failures_total{reason="bad_record"}"#)! >= 2)
        #expect(try await gateway.metric(#"vigil_tls_failures_total{reason="not_tls"}"#)! >= 2)
        #expect(try await gateway.metric(#"vigil_tls_failures_total{reason="timeout"}"#)! >= 1)
    }

    @Test func aNewCertificateLoadsOnSIGHUPWhileConsolesStayConnected() async throws {
        let live = try await LiveGateway(origins: ["https://127.0.0.1"])
        defer { live.stop() }
        let session = try await live.login()
        let scratch = try TemporaryDirectory("vigil-tls-new")
        let openssl = try TestEnvironment.tool("openssl", package: "openssl")
        let make = try ManagedProcess(openssl, [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "365",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", scratch.path("new.key"), "-out", scratch.path("new.crt"),
        ], directory: scratch, name: "openssl")
        #expect(try await make.finish() == 0, "\(make.stderr)")
        // Before the reload the gateway does not present it.
        await #expect(throws: (any Error).self) {
            _ = try await Curl.get(live.gateway.baseURL + "/healthz", caCertificate: scratch.path("new.crt"))
        }

        let console = LiveClient()
        try await console.run(live, cookie: session.cookie) { client in
            _ = try await client.waitFor { $0["type"] as? String == "hello" }
            client.send(#"{"op":"subscribe","id":1,"selector":"temperature"}"#)
            _ = try await client.waitFor { $0["type"] as? String == "snapshot" }

            let tls = live.gateway.directory.path("data/tls")
            for (from, to) in [("new.crt", "self-signed.crt"), ("new.key", "self-signed.key")] {
                // As a renewal tool does it: the new file renamed over the old one.
                #expect(rename(scratch.path(from), "\(tls)/\(to)") == 0, "rename: \(errno)")
            }
            live.gateway.process.signal(SIGHUP)
            _ = try await live.gateway.process.waitForOutput(containing: "TLS certificate reloaded")
            // New connections get the new certificate ...
            let after = try await Curl.get(live.gateway.baseURL + "/healthz", caCertificate: "\(tls)/self-signed.crt")
            #expect(after.status == 200)
            // ... and the console connected before keeps its connection and its updates.
            try await live.broker.publish(topic: "s/boiler-7/temperature", payload: "99.5")
            _ = try await client.waitFor { message in
                message["type"] as? String == "update"
                    && (message["readings"] as? [[String: Any]])?.contains { $0["v"] as? Double == 99.5 } == true
            }
        }
        #expect(live.gateway.process.isRunning)
    }
}
