import Foundation
import Testing
import VigilTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A gateway config (plain HTTP, fast flushes) with one broker `plant` and one subscription.
func brokerConfig(_ directory: TemporaryDirectory, clientID: String, subscription: String,
                  flushInterval: String = "100ms") throws -> String {
    try directory.write("vigil.yaml", """
        data_dir: ${VIGIL_DATA_DIR}
        http: {listen: 127.0.0.1:0, tls: off}
        logging: {ingest_summary: 0}
        store: {flush_interval: \(flushInterval)}
        mqtt:
          brokers:
            - name: plant
              url: ${VIGIL_MQTT_URL}
              client_id: \(clientID)
              subscriptions:
                - \(subscription)
        """)
}

/// Runs the gateway once and stops it cleanly: the broker keeps its persistent session, and
/// queues what is published until the next run.
func makePersistentSession(_ broker: MosquittoBroker, config: String, directory: TemporaryDirectory) async throws {
    let gateway = try await RunningGateway(mqttURL: broker.url, config: config, directory: directory)
    try await gateway.process.waitForOutput(containing: "subscriptions active")
    gateway.process.signal(SIGTERM)
    #expect(await gateway.process.waitForExit(timeout: .seconds(10)) == 0)
}

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
        let config = try brokerConfig(directory, clientID: "vigil-outage-test",
                                      subscription: #"{topic: "burst/+/+", pattern: "burst/{device}/{metric}", format: value, qos: 1}"#)
        try await makePersistentSession(broker, config: config, directory: directory)
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

    /// kill -9 while numbered QoS 1 readings arrive at 2000/s, four times: each restart opens the
    /// store cleanly, and each kill loses at most what arrived since the last flush.
    @Test func killMinusNineUnderLoadLosesAtMostOneFlushIntervalPerKill() async throws {
        let broker = try await MosquittoBroker(configuration: """
            listener {port} 127.0.0.1
            allow_anonymous true
            persistence false
            max_queued_messages 1000000
            max_inflight_messages 0
            log_dest stderr
            log_type error
            """)
        defer { broker.stop() }
        let directory = try TemporaryDirectory("kill-under-load")
        let config = try brokerConfig(directory, clientID: "vigil-kill-test",
                                      subscription: #"{topic: "count/+", pattern: "count/{metric}", format: value, qos: 1}"#,
                                      flushInterval: "200ms")
        var gateway = try await RunningGateway(mqttURL: broker.url, config: config, directory: directory)
        defer { gateway.process.stop() }
        try await gateway.process.waitForOutput(containing: "subscriptions active")
        // 2000 readings a second in 100 ms slices, numbered, for 12 s; a kill every ~2.5 s.
        let (rate, seconds, kills) = (2000, 12, 4)
        let publisher = Task {
            var next = 0
            let started = ContinuousClock.now
            for slice in 0..<(seconds * 10) {
                let lines = (0..<(rate / 10)).map { "\(next + $0)" }
                next += lines.count
                try await broker.publish(topic: "count/n", lines: lines, qos: 1)
                let due = started + .milliseconds((slice + 1) * 100)
                if ContinuousClock.now < due { try await Task.sleep(until: due) }
            }
            return next
        }
        for _ in 0..<kills {
            try await Task.sleep(for: .milliseconds(Int.random(in: 1800...3000)))
            gateway.process.signal(SIGKILL)
            _ = await gateway.process.waitForExit(timeout: .seconds(5))
            gateway = try await RunningGateway(mqttURL: broker.url, config: config, directory: directory)
            let opened = try await gateway.process.waitForOutput(containing: "store opened")
            #expect(opened.contains("store opened"))
        }
        let sent = try await publisher.value
        // The queue the broker kept during the restarts arrives; then a clean stop.
        try await Task.sleep(for: .seconds(3))
        gateway.process.signal(SIGTERM)
        #expect(await gateway.process.waitForExit(timeout: .seconds(15)) == 0)
        let values = Set(try await storedRows(directory.path("data"), "n").compactMap { row in
            row.split(separator: ",").last.flatMap { Double($0) }.map { Int($0) }
        })
        let missing = sent - values.count
        let allowance = kills * rate * 2 / 10  // rate × flush_interval per kill
        FileHandle.standardError.write(Data("kill -9 under load: sent \(sent), stored \(values.count), missing \(missing) after \(kills) kills (allowed \(allowance))\n".utf8))
        #expect(values.isSubset(of: Set(0..<sent)))
        #expect(missing <= allowance, "missing \(missing) of \(sent)")
    }

    /// kill -9 while `vigil import` compacts, and again while it rolls up: the store opens, every
    /// committed sample is there, and the next run finishes the interrupted work.
    @Test(arguments: ["compacting", "rolling up"])
    func killMinusNineDuringMaintenanceLosesNothingCommitted(_ phase: String) async throws {
        let directory = try TemporaryDirectory("kill-maintenance")
        let dataDir = directory.path("data")
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let start = (now / 86_400_000 - 3) * 86_400_000
        var lines = ["series,timestamp_ms,value"]
        for i in 0..<200_000 { lines.append("m{s=\"\(i % 50)\"},\(start + Int64(i / 50) * 60_000 + 1),\(i)") }
        let csv = try directory.write("data.csv", lines.joined(separator: "\n") + "\n")
        let importer = try ManagedProcess(try TestEnvironment.vigilBinary(),
                                          ["import", "--data-dir", dataDir, "--format", "csv", "--commit-interval", "50ms", csv],
                                          directory: directory, name: "import")
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline, importer.isRunning, !importer.stderr.contains(phase) {
            try await Task.sleep(for: .milliseconds(5))
        }
        let interrupted = importer.isRunning
        importer.signal(SIGKILL)
        _ = await importer.waitForExit(timeout: .seconds(5))
        FileHandle.standardError.write(Data("kill -9 while \(phase): \(interrupted ? "interrupted" : "the import had finished")\n".utf8))
        // Everything was committed before the phase began: all of it is there.
        #expect(try await storedRows(dataDir, "m").count == 200_000)
        // The next run (an import of nothing) compacts and rolls up what was left.
        let empty = try directory.write("empty.csv", "series,timestamp_ms,value\n")
        let again = try await vigil(["import", "--data-dir", dataDir, "--format", "csv", empty])
        #expect(again.status == 0, "\(again.stderr)")
        let stats = try await vigil(["store", "stats", "--data-dir", dataDir, "--json"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as? [String: Any])
        // 200 000 samples a minute apart per series cover 2.8 days: 2 complete days × 50 series,
        // 1 h rollups only (a 1 m bucket holds one sample, too sparse to store beside raw samples).
        #expect((json["rollup_blobs"] as? Int ?? 0) >= 50 * 2, "\(stats.stdout)")
        #expect(json["samples"] as? Int == 200_000, "\(stats.stdout)")
        let values = Set(try await storedRows(dataDir, "m").compactMap { $0.split(separator: ",").last.flatMap { Double($0) } })
        #expect(values.count == 200_000)
    }

    /// kill -9 while retention deletes (`vigil store maintain` after retention was lowered): the
    /// store opens, nothing inside retention is lost, and the next run finishes the deletion.
    @Test func killMinusNineDuringRetentionLosesNothingKept() async throws {
        let directory = try TemporaryDirectory("kill-retention")
        let dataDir = directory.path("data")
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var lines = ["series,timestamp_ms,value"]
        // 4000 series of 50 samples from 10 days ago (a chunk each: retention deletes whole chunks),
        // and 1000 series of 10 recent samples.
        for s in 0..<4000 {
            for i in 0..<50 { lines.append("old{s=\"\(s)\"},\(now - 10 * 86_400_000 + Int64(i) * 1000),\(i)") }
        }
        for s in 0..<1000 {
            for i in 0..<10 { lines.append("recent{s=\"\(s)\"},\(now - 600_000 + Int64(i) * 1000),\(i)") }
        }
        let csv = try directory.write("data.csv", lines.joined(separator: "\n") + "\n")
        let imported = try await vigil(["import", "--data-dir", dataDir, "--max-age", "30d", "--format", "csv", csv])
        #expect(imported.status == 0, "\(imported.stderr)")
        let config = try directory.write("vigil.yaml", """
            data_dir: \(dataDir)
            store: {retention: 1d}
            """)
        let maintainer = try ManagedProcess(try TestEnvironment.vigilBinary(), ["store", "maintain", "--config", config],
                                            directory: directory, name: "maintain")
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline, maintainer.isRunning, !maintainer.stderr.contains("applying retention") {
            try await Task.sleep(for: .milliseconds(2))
        }
        let interrupted = maintainer.isRunning
        maintainer.signal(SIGKILL)
        _ = await maintainer.waitForExit(timeout: .seconds(5))
        FileHandle.standardError.write(Data("kill -9 during retention: \(interrupted ? "interrupted" : "it had finished")\n".utf8))
        // Every sample inside retention is there, whatever the kill cut short.
        func count(_ selector: String) async throws -> Int {
            let rows = try await vigil(["query", "--data-dir", dataDir, selector, "--start=-30d", "--end=+1h", "--format", "csv"])
            return rows.stdout.split(separator: "\n").count - 1
        }
        #expect(try await count("recent") == 1000 * 10)
        let again = try await vigil(["store", "maintain", "--config", config])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try await count("old") == 0, "retention finished what the kill cut short")
        #expect(try await count("recent") == 1000 * 10)
    }
}
