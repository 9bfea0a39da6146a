import Foundation
import Testing
import VigilTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Issue 14 against the real binary: what a broken device, a fuzzer or an attacker with a viewer
/// token sends is answered, refused and counted; the gateway never stops.
@Suite("Hostile input end to end: HTTP limits, poison messages, hostile queries", .serialized)
struct HostileInputEndToEndTests {
    static let token = "vgl_hostile_\(UInt64.random(in: 0...UInt64.max))"
    static var tokenHash: String { TestCredentials.tokenSHA256(token) }

    func port(_ gateway: RunningGateway) throws -> Int {
        guard let port = gateway.baseURL.split(separator: ":").last.flatMap({ Int($0) }) else {
            throw TestFailure("no port in \(gateway.baseURL)")
        }
        return port
    }

    @Test func everyMalformedOrOversizedRequestIsAnsweredAndClosed() async throws {
        let directory = try TemporaryDirectory("hostile-http")
        let config = try directory.write("vigil.yaml", """
            data_dir: ${VIGIL_DATA_DIR}
            http: {listen: 127.0.0.1:0, tls: off, handshake_timeout: 1s, request_timeout: 1s}
            auth: {tokens: [{name: t, sha256: \(Self.tokenHash), role: viewer}]}
            logging: {ingest_summary: 0}
            """)
        let gateway = try await RunningGateway(mqttURL: "mqtt://127.0.0.1:1", config: config, directory: directory)
        defer { gateway.process.stop() }
        let port = try port(gateway)
        func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
        let cases: [(name: String, pieces: [[UInt8]], statuses: Set<Int>, within: Duration)] = [
            ("HTTP/9.9", [bytes("GET / HTTP/9.9\r\nHost: x\r\n\r\n")], [400, 505], .seconds(1)),
            ("a bare GET", [bytes("GET\r\n\r\n")], [400], .seconds(1)),
            ("HTTP/2 preface", [bytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")], [400, 505], .seconds(1)),
            ("random bytes", [(0..<1024).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }], [400], .seconds(1)),
            ("Content-Length: -1", [bytes("POST /api/v1/query HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n")], [400], .seconds(1)),
            ("two Content-Lengths", [bytes("POST /api/v1/query HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc")], [400], .seconds(1)),
            ("CL and TE", [bytes("POST /api/v1/query HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")], [400], .seconds(1)),
            ("bare LF", [bytes("GET /healthz HTTP/1.1\nHost: x\n\n")], [200, 400], .seconds(1)),
            ("100 KiB URL", [bytes("GET /" + String(repeating: "a", count: 100_000) + " HTTP/1.1\r\nHost: x\r\n\r\n")], [414], .seconds(1)),
            ("100 KiB header", [bytes("GET / HTTP/1.1\r\nHost: x\r\nX-A: " + String(repeating: "a", count: 100_000) + "\r\n\r\n")], [431], .seconds(1)),
            ("100 MB announced on login", [bytes("POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{")], [413], .seconds(1)),
            ("100 MB announced on query", [bytes("POST /api/v1/query HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(Self.token)\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000000\r\n\r\nq")], [413], .seconds(1)),
            ("a body at 1 byte/s", [bytes("POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n")]
                + Array(repeating: bytes("{"), count: 5), [408], .seconds(3)),
            ("a head that never ends", [bytes("GET / HTTP/1.1\r\nHost: x\r\n")], [408], .seconds(3)),
        ]
        for (name, pieces, statuses, within) in cases {
            let exchange = try await RawHTTP.exchange(port: port, pieces, pause: .seconds(1), timeout: .seconds(10))
            #expect(exchange.status.map(statuses.contains) == true, "\(name): \(exchange.answer.prefix(80))")
            #expect(exchange.closed || exchange.answer.contains("200 OK"), "\(name): left open")
            #expect(exchange.elapsed < within + .seconds(Double(pieces.count - 1)), "\(name): took \(exchange.elapsed)")
        }
        // Nothing of it harmed the gateway.
        #expect(gateway.process.isRunning)
        #expect(try await gateway.get("/healthz").status == 200)
    }

    @Test func aPoisonMessageOnAPersistentSessionIsRefusedOnceAndNeverCrashLoops() async throws {
        let broker = try await MosquittoBroker()
        defer { broker.stop() }
        let directory = try TemporaryDirectory("poison")
        let config = try brokerConfig(directory, clientID: "vigil-poison-test", subscription: #"{topic: "senml/#", format: senml, qos: 1}"#)
        // The first run creates the persistent session; messages published while it is down queue.
        try await makePersistentSession(broker, config: config, directory: directory)
        let now = Int(Date().timeIntervalSince1970)
        for poison in [#"[{"bn":"fz:","bt":9223372036854775807,"n":"a","v":1}]"#, #"[{"bn":"fz:","bt":1e999,"n":"a","v":1}]"#] {
            try await broker.publish(topic: "senml/poison", payload: poison, qos: 1)
        }
        try await broker.publish(topic: "senml/good", payload: #"[{"bn":"d1:","bt":\#(now),"n":"temp","v":21.5}]"#, qos: 1)
        var logs = ""
        for _ in 0..<2 {
            let gateway = try await RunningGateway(mqttURL: broker.url, config: config, directory: directory)
            defer { gateway.process.stop() }
            try await gateway.process.waitForOutput(containing: "subscriptions active")
            try await Task.sleep(for: .seconds(1))
            #expect(gateway.process.isRunning)
            #expect(try await gateway.get("/healthz").status == 200)
            gateway.process.signal(SIGTERM)
            #expect(await gateway.process.waitForExit(timeout: .seconds(10)) == 0, "\(gateway.process.stderr.suffix(2000))")
            logs += gateway.process.stdout + gateway.process.stderr
        }
        // Refused once with its reason (acknowledged, so not redelivered), the good reading kept.
        #expect(logs.components(separatedBy: "reason=invalid_timestamp").count - 1 == 2, "\(logs.suffix(3000))")
        #expect(try await storedRows(directory.path("data"), "temp").count == 1)
    }

    @Test func hostileQueriesAreAnsweredQuicklyAndNeverTrap() async throws {
        let directory = try TemporaryDirectory("hostile-query")
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var lines = ["series,timestamp_ms,value"]
        for i in 0..<3000 { lines.append("bulk,\(now - 3_000_000 + Int64(i) * 1000),\(i)") }
        lines.append("\"label{device=\"\"\(String(repeating: "a", count: 5000))!\"\"}\",\(now - 1000),1")
        let csv = try directory.write("data.csv", lines.joined(separator: "\n") + "\n")
        let imported = try await vigil(["import", "--data-dir", directory.path("data"), "--format", "csv", csv])
        #expect(imported.status == 0, "\(imported.stderr)")
        let config = try directory.write("vigil.yaml", """
            data_dir: ${VIGIL_DATA_DIR}
            http: {listen: 127.0.0.1:0, tls: off}
            auth: {tokens: [{name: t, sha256: \(Self.tokenHash), role: operator}]}
            logging: {ingest_summary: 0}
            query: {timeout: 5s, max_samples: 1000}
            """)
        let gateway = try await RunningGateway(mqttURL: "mqtt://127.0.0.1:1", config: config, directory: directory)
        defer { gateway.process.stop() }
        func ask(_ path: String, _ parameters: [String: String], post: String? = nil) async throws -> Curl.Response {
            var arguments = ["-G"]
            for (name, value) in parameters { arguments += ["--data-urlencode", "\(name)=\(value)"] }
            if let post { arguments = ["-H", "Content-Type: application/json", "--data", post] }
            return try await Curl.get(gateway.baseURL + path, headers: ["Authorization: Bearer \(Self.token)"], arguments: arguments)
        }
        let started = ContinuousClock.now
        let series = try await ask("/api/v1/series", ["match[]": #"{device=~"(a+)+$"}"#])
        #expect(series.status == 200 && series.body.contains(#""data":[]"#), "\(series.body.prefix(200))")
        #expect(ContinuousClock.now - started < .seconds(3))
        let refused: [(String, [String: String], Int, String)] = [
            ("/api/v1/query", ["query": "x", "time": "-2562047788015d"], 400, "bad_data"),
            ("/api/v1/query_range", ["query": "x", "start": "-2562047788015d", "end": "now", "step": "15"], 400, "bad_data"),
            ("/api/v1/query_range", ["query": "x", "start": "-1h", "end": "now", "step": "1e-300"], 400, "bad_data"),
            ("/api/v1/query_range", ["query": "x", "start": "-1h", "end": "now", "step": "9223372036854775807"], 400, "bad_data"),
            ("/api/v1/query_range", ["query": "x", "agg": "rate", "start": "-1h", "end": "now", "step": "106751991167d"], 400, "bad_data"),
            ("/api/v1/query", ["query": "rate(bulk[9999999999999y])"], 400, "bad_data"),
            ("/api/v1/query_range", ["query": "bulk", "start": "-1h", "end": "now", "step": "1"], 422, "execution"),
            ("/api/v1/query_range", ["query": "bulk", "agg": "avg", "start": "-1h", "end": "now", "step": "1"], 422, "execution"),
        ]
        for (path, parameters, status, type) in refused {
            let answer = try await ask(path, parameters)
            #expect(answer.status == status && answer.body.contains(#""errorType":"\#(type)""#), "\(parameters): \(answer.status) \(answer.body)")
        }
        for duration in ["106751991167d", "2562047788015215h"] {
            let silence = try await ask("/api/v1/silences", [:], post: #"{"matchers":"{a=\"b\"}","duration":"\#(duration)"}"#)
            #expect(silence.status == 400, "\(silence.body)")
        }
        #expect(try await gateway.metric(#"vigil_query_aborted_total{reason="too_many_samples"}"#) == 2)
        #expect(gateway.process.isRunning)
    }

    /// A query that would run for minutes stops when its client hangs up, and SIGTERM does not wait
    /// for one either.
    @Test func aLongQueryStopsWhenItsClientLeavesAndNeverHoldsUpShutdown() async throws {
        let directory = try TemporaryDirectory("long-query")
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var lines = ["series,timestamp_ms,value"]
        lines.reserveCapacity(200_001)
        for i in 0..<200_000 { lines.append("slow_total,\(now - 4_000_000 + Int64(i) * 20),\(i)") }
        let csv = try directory.write("data.csv", lines.joined(separator: "\n") + "\n")
        let imported = try await vigil(["import", "--data-dir", directory.path("data"), "--format", "csv", csv])
        #expect(imported.status == 0, "\(imported.stderr)")
        let config = try directory.write("vigil.yaml", """
            data_dir: ${VIGIL_DATA_DIR}
            http: {listen: 127.0.0.1:0, tls: off}
            auth: {tokens: [{name: t, sha256: \(Self.tokenHash), role: viewer}]}
            logging: {ingest_summary: 0}
            query: {timeout: 10m}
            """)
        let gateway = try await RunningGateway(mqttURL: "mqtt://127.0.0.1:1", config: config, directory: directory)
        defer { gateway.process.stop() }
        // Every one of 11 000 steps walks a window holding up to all 200 000 samples.
        let slow = ["-G", "--data-urlencode", "query=rate(slow_total[100y])", "--data-urlencode", "start=\(now / 1000 - 4000)",
                    "--data-urlencode", "end=\(now / 1000)", "--data-urlencode", "step=0.37", "--max-time", "1"]
        _ = try? await Curl.get(gateway.baseURL + "/api/v1/query_range", headers: ["Authorization: Bearer \(Self.token)"], arguments: slow)
        #expect(try await eventually(timeout: .seconds(10)) {
            try await gateway.metric(#"vigil_query_aborted_total{reason="cancelled"}"#) == 1
        })
        // Again, and stop the gateway while the query runs.
        let client = Task { try? await Curl.get(gateway.baseURL + "/api/v1/query_range", headers: ["Authorization: Bearer \(Self.token)"],
                                                arguments: Array(slow.dropLast(2)) + ["--max-time", "30"]) }
        try await Task.sleep(for: .seconds(1))
        let stopping = ContinuousClock.now
        gateway.process.signal(SIGTERM)
        #expect(await gateway.process.waitForExit(timeout: .seconds(10)) == 0)
        #expect(ContinuousClock.now - stopping < .seconds(5))
        let answer = await client.value
        #expect(answer == nil || answer?.status == 503, "\(answer?.body ?? "")")
    }
}
