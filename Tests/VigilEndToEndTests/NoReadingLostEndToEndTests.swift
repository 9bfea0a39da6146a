import Foundation
import Testing
import VigilTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Issue 15 with real peers: readings that arrive together are all kept.
@Suite("No reading lost, end to end", .serialized)
struct NoReadingLostEndToEndTests {
    /// 20 devices × 50 plain values at QoS 1, queued by mosquitto while the gateway is down, arrive
    /// in one burst when it comes back: every one is stored, in order.
    @Test func anOutageBurstIsStoredWhole() async throws {
        let broker = try await MosquittoBroker(configuration: """
            listener {port} 127.0.0.1
            allow_anonymous true
            persistence false
            max_queued_messages 100000
            log_dest stderr
            log_type error
            """)
        defer { broker.stop() }
        let directory = try TemporaryDirectory("outage-burst")
        let config = try directory.write("vigil.yaml", """
            data_dir: ${VIGIL_DATA_DIR}
            http: {listen: 127.0.0.1:0, tls: off}
            logging: {ingest_summary: 0}
            store: {flush_interval: 100ms}
            mqtt:
              brokers:
                - name: plant
                  url: ${VIGIL_MQTT_URL}
                  client_id: vigil-outage-test
                  subscriptions:
                    - {topic: "burst/+/+", pattern: "burst/{device}/{metric}", format: value, qos: 1}
            """)
        do {  // the first run makes the persistent session
            let gateway = try await RunningGateway(mqttURL: broker.url, config: config, directory: directory)
            try await gateway.process.waitForOutput(containing: "subscriptions active")
            gateway.process.signal(SIGTERM)
            #expect(await gateway.process.waitForExit(timeout: .seconds(10)) == 0)
        }
        let (devices, readings) = (20, 50)
        for device in 0..<devices {
            try await broker.publish(topic: "burst/d\(device)/level", lines: (0..<readings).map { "\($0)" }, qos: 1)
        }
        let gateway = try await RunningGateway(mqttURL: broker.url, config: config, directory: directory)
        defer { gateway.process.stop() }
        let dataDir = directory.path("data")
        var rows: [String] = []
        _ = try await eventually(timeout: .seconds(20)) {
            rows = try await storedRows(dataDir, "level")
            return rows.count >= devices * readings
        }
        #expect(rows.count == devices * readings)
        // Per device, the values come back as they were sent: 0, 1, …, 49 in time order.
        var perDevice: [String: [(Int64, Double)]] = [:]
        for row in rows {
            let fields = row.split(separator: ",")
            guard fields.count >= 3, let t = Int64(fields[fields.count - 2]), let v = Double(fields[fields.count - 1]) else { continue }
            perDevice[String(fields.dropLast(2).joined(separator: ",")), default: []].append((t, v))
        }
        #expect(perDevice.count == devices)
        for (series, points) in perDevice {
            let ordered = points.sorted { $0.0 < $1.0 }.map(\.1)
            #expect(ordered == (0..<readings).map(Double.init), "\(series)")
        }
        #expect(try await gateway.metric("vigil_ingest_receive_time_shifted_total") ?? 0 > 0)
    }

    /// A mixed run: good, malformed, out of bounds, redelivered, rewritten, too old, too large.
    /// Every reading received is stored, refused with a reason or counted as a duplicate, and
    /// /api/v1/sources says so exactly.
    @Test func theIngestLedgerBalancesExactly() async throws {
        let broker = try await MosquittoBroker()
        defer { broker.stop() }
        let directory = try TemporaryDirectory("ledger")
        let config = try directory.write("vigil.yaml", """
            data_dir: ${VIGIL_DATA_DIR}
            http: {listen: 127.0.0.1:0, tls: off}
            auth: {tokens: [{name: t, sha256: \(HostileInputEndToEndTests.tokenHash), role: viewer}]}
            logging: {ingest_summary: 0}
            store: {flush_interval: 100ms}
            normalize:
              rules:
                - {metric: level, min: 0, max: 100}
            mqtt:
              brokers:
                - name: plant
                  url: ${VIGIL_MQTT_URL}
                  subscriptions:
                    - {topic: "plain/+/+", pattern: "plain/{device}/{metric}", format: value, qos: 1}
                    - topic: json/+
                      pattern: json/{device}
                      format: json
                      json:
                        timestamp: {path: ts, unit: ms}
                        fields: [{path: t, metric: temp}]
            """)
        let gateway = try await RunningGateway(mqttURL: broker.url, config: config, directory: directory)
        defer { gateway.process.stop() }
        try await gateway.process.waitForOutput(containing: "subscriptions active")
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        try await broker.publish(topic: "plain/d1/level", lines: (1...30).map { "\($0)" })            // 30 stored
        try await broker.publish(topic: "plain/d1/level", lines: Array(repeating: "hot", count: 5))  // 5 not_a_number
        try await broker.publish(topic: "plain/d1/level", lines: Array(repeating: "500", count: 3))  // 3 out_of_bounds
        try await broker.publish(topic: "json/d2", payload: #"{"ts": \#(now), "t": 20}"#)            // stored
        try await broker.publish(topic: "json/d2", payload: #"{"ts": \#(now), "t": 20}"#)            // duplicate (redelivery)
        try await broker.publish(topic: "json/d2", payload: #"{"ts": \#(now), "t": 21}"#)            // duplicate (rewrite, last wins)
        try await broker.publish(topic: "json/d2", payload: #"{"ts": \#(now - 40 * 86_400_000), "t": 5}"#)  // too_old
        try await broker.publish(topic: "json/d2", payload: #"{"t": ""# + String(repeating: "x", count: 300_000) + #""}"#)  // too large

        var ledger: [String: Any] = [:]
        _ = try await eventually(timeout: .seconds(15)) {
            let sources = try await Curl.get(gateway.baseURL + "/api/v1/sources",
                                             headers: ["Authorization: Bearer \(HostileInputEndToEndTests.token)"])
            let json = try JSONSerialization.jsonObject(with: Data(sources.body.utf8)) as? [String: Any]
            let plant = (json?["data"] as? [[String: Any]])?.first { $0["name"] as? String == "mqtt/plant" }
            ledger = plant?["ledger"] as? [String: Any] ?? [:]
            return ledger["received"] as? Int == 43 && ledger["in_flight"] as? Int == 0
        }
        let refused = ledger["refused"] as? [String: Int] ?? [:]
        let dropped = ledger["dropped"] as? [String: Int] ?? [:]
        #expect(ledger["received"] as? Int == 43, "\(ledger)")
        #expect(ledger["stored"] as? Int == 31, "\(ledger)")
        #expect(ledger["duplicate"] as? Int == 2, "\(ledger)")
        #expect(refused == ["not_a_number": 5, "out_of_bounds": 3, "too_old": 1, "payload_too_large": 1], "\(ledger)")
        #expect(dropped.isEmpty)
        let sum = (ledger["stored"] as? Int ?? 0) + (ledger["duplicate"] as? Int ?? 0) + refused.values.reduce(0, +) + dropped.values.reduce(0, +)
        #expect(sum == ledger["received"] as? Int)
        // The same in /metrics, and what is stored is what the ledger says.
        #expect(try await gateway.metric(#"vigil_ingest_ledger_total{source="mqtt/plant",outcome="stored",reason=""}"#) == 31)
        let rows = try await storedRows(directory.path("data"), #"{__name__=~"level|temp"}"#)
        #expect(rows.count == 31)
        #expect(rows.contains { $0.hasSuffix(",21.0") }, "the rewrite won")
    }
}
