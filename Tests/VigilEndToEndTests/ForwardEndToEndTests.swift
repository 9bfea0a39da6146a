import Foundation
import Synchronization
import Testing
import VigilTestSupport

/// A time-series database from Debian on loopback: VictoriaMetrics or Prometheus with its
/// remote-write receiver. Restartable on the same data directory and port.
final class TSDB: Sendable {
    enum Kind: Sendable { case victoriaMetrics, prometheus }
    let kind: Kind
    let port: Int
    let directory: TemporaryDirectory
    private let current: Mutex<ManagedProcess?>

    init(_ kind: Kind) async throws {
        self.kind = kind
        port = TestEnvironment.freePort()
        directory = try TemporaryDirectory(kind == .victoriaMetrics ? "victoria" : "prometheus")
        current = Mutex(nil)
        try await start()
    }

    var writeURL: String { "http://127.0.0.1:\(port)/api/v1/write" }

    func start() async throws {
        let process: ManagedProcess
        switch kind {
        case .victoriaMetrics:
            process = try ManagedProcess(try TestEnvironment.tool("victoria-metrics", package: "victoria-metrics"), [
                "-storageDataPath=\(directory.path("data"))", "-httpListenAddr=127.0.0.1:\(port)", "-retentionPeriod=100y",
                "-search.latencyOffset=0s", "-search.disableCache",
            ], directory: directory, name: "victoria-\(Int.random(in: 0..<1_000_000))")
        case .prometheus:
            let config = try directory.write("prometheus.yml", "global: {scrape_interval: 1h}\nscrape_configs: []\n")
            process = try ManagedProcess(try TestEnvironment.tool("prometheus", package: "prometheus"), [
                "--config.file=\(config)", "--storage.tsdb.path=\(directory.path("data"))",
                "--web.listen-address=127.0.0.1:\(port)", "--web.enable-remote-write-receiver",
            ], directory: directory, name: "prometheus-\(Int.random(in: 0..<1_000_000))")
        }
        current.withLock { $0 = process }
        // Generous: on a loaded 2-core CI machine both have taken more than 20 s to answer.
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let path = kind == .prometheus ? "/-/ready" : "/health"
            if let response = try? await Curl.get("http://127.0.0.1:\(port)\(path)"), response.status == 200 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestFailure("\(kind) did not start: \(process.stderr.suffix(2000))")
    }

    func stop() async {
        let process = current.withLock { $0 }
        process?.signal(SIGTERM)
        _ = await process?.waitForExit(timeout: .seconds(20))
    }

    func kill() { current.withLock { $0?.stop() } }

    /// Every stored sample of `metric` as "series-labels t v" lines, sorted, duplicates removed.
    func samples(_ metric: String) async throws -> [String] {
        switch kind {
        case .victoriaMetrics:
            _ = try await Curl.get("http://127.0.0.1:\(port)/internal/force_flush")
            let body = try await Curl.get("http://127.0.0.1:\(port)/api/v1/export?match[]=\(metric)").body
            var out = Set<String>()
            for line in body.split(separator: "\n") {
                guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let labels = object["metric"] as? [String: String], let values = object["values"] as? [Double],
                      let timestamps = object["timestamps"] as? [Int64] else { continue }
                for (t, v) in zip(timestamps, values) { out.insert("\(labels["device"] ?? "") \(labels["gateway"] ?? "") \(t) \(v)") }
            }
            return out.sorted()
        case .prometheus:
            let body = try await Curl.get("http://127.0.0.1:\(port)/api/v1/query?query=\(metric)%5B1d%5D").body
            let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
            let result = (object?["data"] as? [String: Any])?["result"] as? [[String: Any]] ?? []
            var out = Set<String>()
            for series in result {
                let labels = series["metric"] as? [String: String] ?? [:]
                for pair in series["values"] as? [[Any]] ?? [] {
                    guard let t = pair.first as? Double, let v = (pair.last as? String).flatMap(Double.init) else { continue }
                    out.insert("\(labels["device"] ?? "") \(labels["gateway"] ?? "") \(Int64((t * 1000).rounded())) \(v)")
                }
            }
            return out.sorted()
        }
    }
}

@Suite("Forwarding to VictoriaMetrics and Prometheus (remote write)", .serialized)
struct ForwardEndToEndTests {
    @Test func readingsArriveWithTheSameValuesAndTimesAndAnOutageLosesNothing() async throws {
        let victoria = try await TSDB(.victoriaMetrics)
        defer { victoria.kill() }
        let prometheus = try await TSDB(.prometheus)
        defer { prometheus.kill() }
        let live = try await AlertGateway(alerts: """
            gateway: {name: plant-7}
            forward:
              remote_write:
                - {name: vm, url: "\(victoria.writeURL)", interval: 200ms, delay: 500ms, start: oldest,
                   retry_initial: 200ms, retry_max: 1s, batch_size: 7}
                - {name: prom, url: "\(prometheus.writeURL)", interval: 200ms, delay: 500ms, start: oldest}
                - {name: wrong, url: "http://127.0.0.1:\(victoria.port)/no/such/path", interval: 200ms, delay: 500ms, start: oldest}
            """)
        defer { live.stop() }

        func storeSamples() async throws -> [String] {
            let exported = try await vigil(["export", "--data-dir", live.dataDirectory.path("data"), "flow", "--start=-1d"])
            return exported.stdout.split(separator: "\n").dropFirst().compactMap { line -> String? in
                // flow{device="d1"},1764…,12.5
                let parts = line.split(separator: ",")
                guard parts.count == 3, let range = line.firstRange(of: "device=\"\"") else { return nil }
                let device = line[range.upperBound...].prefix { $0 != "\"" }
                return "\(device) plant-7 \(parts[1]) \(Double(parts[2]) ?? .nan)"
            }.sorted()
        }
        func waitUntilEqual(_ db: TSDB, timeout: Duration = .seconds(20)) async throws {
            let expected = try await storeSamples()
            let deadline = ContinuousClock.now + timeout
            var got: [String] = []
            while ContinuousClock.now < deadline {
                got = try await db.samples("flow")
                if got == expected { return }
                try await Task.sleep(for: .milliseconds(300))
            }
            #expect(got == expected, "\(db.kind): \(got.count) samples, Vigil has \(expected.count)")
        }

        for i in 0..<10 {
            try await live.publish("d\(i % 3)", "flow", 10 + Double(i) * 0.5)
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(try await eventually { try await storeSamples().count == 10 })
        try await waitUntilEqual(victoria)
        try await waitUntilEqual(prometheus)

        // VictoriaMetrics goes away; readings keep coming; the gateway restarts meanwhile.
        await victoria.stop()
        for i in 10..<20 {
            try await live.publish("d\(i % 3)", "flow", 10 + Double(i) * 0.5)
            try await Task.sleep(for: .milliseconds(50))
        }
        try await Task.sleep(for: .seconds(2))
        let sources = try await live.api("/api/v1/sources").body
        #expect(sources.contains(#""name":"forward/vm","kind":"remote_write","state":"disconnected""#),
                "\(sources)\n\(live.gateway.process.stderr.split(separator: "\n").filter { $0.contains("forward") }.suffix(10).joined(separator: "\n"))")
        #expect(sources.contains(#""lag_seconds""#))
        try await live.restart()
        for i in 20..<25 {
            try await live.publish("d\(i % 3)", "flow", 10 + Double(i) * 0.5)
            try await Task.sleep(for: .milliseconds(50))
        }
        try await victoria.start()
        #expect(try await eventually { try await storeSamples().count == 25 })
        try await waitUntilEqual(victoria)
        try await waitUntilEqual(prometheus)

        let metrics = try await live.gateway.get("/metrics").body
        #expect(metrics.contains(#"vigil_forward_samples_dropped_total{endpoint="wrong"}"#), "a 4xx drops, counted")
        let ready = try await live.gateway.get("/readyz")
        #expect(ready.status == 200, "a forwarding endpoint does not decide readiness: \(ready.body)")
    }
}

extension ForwardEndToEndTests {
    @Test func requestsCarryTheRemoteWriteHeadersAndCredentials() async throws {
        let sink = try await WebhookSink()
        defer { sink.stop() }
        let live = try await AlertGateway(alerts: """
            forward:
              remote_write:
                - {name: basic, url: "http://127.0.0.1:\(sink.port)/basic", basic_auth: {username: site7, password: "s3cr3t"},
                   interval: 200ms, delay: 200ms}
                - {name: bearer, url: "http://127.0.0.1:\(sink.port)/bearer", bearer_token: tok-123,
                   headers: {X-Scope-OrgID: plant-7}, interval: 200ms, delay: 200ms}
            """)
        defer { live.stop() }
        try await Task.sleep(for: .milliseconds(300))
        try await live.publish("d1", "flow", 1)
        let records = try await sink.waitFor(2)
        let byPath = Dictionary(records.map { ($0["path"] as? String ?? "", $0["headers"] as? [String: String] ?? [:]) }, uniquingKeysWith: { a, _ in a })
        #expect(byPath["/basic"]?["authorization"] == "Basic " + Data("site7:s3cr3t".utf8).base64EncodedString())
        #expect(byPath["/bearer"]?["authorization"] == "Bearer tok-123" && byPath["/bearer"]?["x-scope-orgid"] == "plant-7")
        for headers in byPath.values {
            #expect(headers["content-encoding"] == "snappy" && headers["content-type"] == "application/x-protobuf")
            #expect(headers["x-prometheus-remote-write-version"] == "0.1.0")
        }
        #expect(!live.gateway.process.stderr.contains("s3cr3t") && !live.gateway.process.stderr.contains("tok-123"), "secrets never logged")
    }
}

@Suite("Several gateways share one MQTT subscription")
struct SharedSubscriptionTests {
    @Test func twoGatewaysSplitASharedSubscriptionAndTogetherGetEveryMessage() async throws {
        let broker = try await MosquittoBroker()
        defer { broker.stop() }
        var gateways: [RunningGateway] = []
        defer { for gateway in gateways { gateway.process.stop() } }
        for name in ["edge-a", "edge-b"] {
            let directory = try TemporaryDirectory("shared-\(name)")
            let config = try directory.write("vigil.yaml", """
                gateway: {name: \(name)}
                data_dir: ${VIGIL_DATA_DIR}
                http: {listen: 127.0.0.1:0, tls: off}
                logging: {ingest_summary: 0}
                mqtt:
                  brokers:
                    - url: \(broker.url)
                      protocol: "5"
                      subscriptions:
                        - {topic: "$share/vigil/factory/+/+", pattern: "factory/{device}/{metric}", qos: 1}
                """)
            let gateway = try await RunningGateway(mqttURL: broker.url, config: config, directory: directory)
            try await gateway.process.waitForOutput(containing: "connected to MQTT broker")
            gateways.append(gateway)
        }
        try await Task.sleep(for: .milliseconds(300))
        try await broker.publish(topic: "factory/press-1/pressure", lines: (0..<200).map { "\($0)" })
        let deadline = ContinuousClock.now + .seconds(10)
        var counts: [Double] = []
        while ContinuousClock.now < deadline {
            counts = []
            for gateway in gateways { counts.append(try await gateway.metric(#"vigil_ingest_readings_total{source="mqtt/"#) ?? 0) }
            if counts.reduce(0, +) >= 200 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(counts.reduce(0, +) == 200, "\(counts)")
        #expect(counts.allSatisfy { $0 > 0 }, "both gateways got a share: \(counts)")
    }
}
