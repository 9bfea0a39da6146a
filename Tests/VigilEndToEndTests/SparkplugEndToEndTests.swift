import Foundation
import Testing
import VigilTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// scripts/sparkplug_edge.py: a Sparkplug B edge node on pysparkplug (PyPI), a third-party
/// implementation of births, seq, bdSeq and the NDEATH will, which answers rebirth requests.
final class SparkplugEdgeNode: Sendable {
    let process: ManagedProcess

    /// `tahu`: scripts/sparkplug_edge_tahu.py (mqtt-spb-wrapper, in .build/spb-venv) instead.
    init(port: Int, directory: TemporaryDirectory, arguments: [String], tahu: Bool = false) async throws {
        let venv = tahu ? ".build/spb-venv" : ".build/test-venv"
        let python = TestEnvironment.packageRoot.appendingPathComponent("\(venv)/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw TestFailure("no \(python): run `scripts/install-deps.sh test` (make test does)")
        }
        let script = TestEnvironment.packageRoot.appendingPathComponent(tahu ? "scripts/sparkplug_edge_tahu.py" : "scripts/sparkplug_edge.py").path
        process = try ManagedProcess(python, [script, "--port", "\(port)"] + arguments, directory: directory,
                                     name: "sparkplug-edge-\(Int.random(in: 0..<1_000_000))")
        _ = try await process.waitForOutput(containing: "births published")
    }
}

@Suite("Sparkplug B end to end: a pysparkplug edge node, mosquitto and vigil", .serialized)
struct SparkplugEndToEndTests {
    static let password = "pw-\(UInt32.random(in: 0...UInt32.max))"

    /// The last retained message on `topic`, read with mosquitto_sub.
    static func retained(_ broker: MosquittoBroker, _ topic: String, directory: TemporaryDirectory) async throws -> String {
        let subscriber = try ManagedProcess(try TestEnvironment.tool("mosquitto_sub", package: "mosquitto-clients"),
                                            ["-p", "\(broker.port)", "-t", topic, "-C", "1", "-W", "5", "--retained-only"],
                                            directory: directory, name: "sub-\(Int.random(in: 0..<1_000_000))")
        _ = try await subscriber.finish(timeout: .seconds(10))
        return subscriber.stdout
    }

    @Test func birthsDataAGapARebirthADeathByWillAndANewSession() async throws {
        let broker = try await MosquittoBroker()
        defer { broker.stop() }
        let directory = try TemporaryDirectory("sparkplug")
        let gateway = try await RunningGateway(mqttURL: "", config: try gatewayConfig(directory, broker: """
            url: \(broker.url)
            clean_session: true
            subscriptions:
              - topic: spBv1.0/#
                format: sparkplug
                qos: 0
                sparkplug: {host_id: vigil-e2e, rebirth_interval: 1s, reorder_timeout: 100ms}
            """), extraEnvironment: ["VIGIL_ADMIN_HASH": TestCredentials.passwordHash(Self.password)])
        defer { gateway.process.stop() }
        try await gateway.process.waitForOutput(containing: "connected to MQTT broker")
        // The host application's STATE, retained, for edge nodes that wait for it.
        #expect(try await eventually {
            try await Self.retained(broker, "spBv1.0/STATE/vigil-e2e", directory: directory).contains(#""online":true"#)
        })

        // Data by alias only, with one seq number skipped: Vigil asks for a rebirth, the node
        // (pysparkplug decodes the NCMD) publishes its births again.
        let edge = try await SparkplugEdgeNode(port: broker.port, directory: directory,
                                               arguments: ["--alias", "--gap-at", "5", "--messages", "20", "--stay"])
        defer { edge.process.stop() }
        _ = try await edge.process.waitForOutput(containing: "rebirth requested on spBv1.0/plant/NCMD/edge-1", timeout: .seconds(15))
        _ = try await edge.process.waitForOutput(containing: "done publishing 20 messages", timeout: .seconds(30))
        #expect(try await gateway.metric(#"vigil_sparkplug_sequence_gaps_total{broker="test"}"#) ?? 0 >= 1)
        #expect(try await gateway.metric(#"vigil_sparkplug_rebirth_requests_total{broker="test"}"#) ?? 0 >= 1)

        // Every data message stored: 20 NDATA and 2 NBIRTH values of Temperature; per device 20
        // DDATA and 2 DBIRTH values of Pressure; signed Int32 values kept their sign.
        let dataDir = gateway.directory.path("data")
        #expect(try await eventually(timeout: .seconds(20)) {
            try await storedRows(dataDir, #"Temperature{group="plant",node="edge-1"}"#).count == 22
        })
        // Device data comes in other messages than the node's: possibly the next hand-off (20 ms).
        #expect(try await eventually { try await storedRows(dataDir, #"Pressure{device="dev-1"}"#).count == 22 })
        #expect(try await storedRows(dataDir, #"Offset{node="edge-1"}"#).contains { $0.hasSuffix(",-20.0") })
        // Firmware is a String: refused with a reason in each birth.
        #expect(try await gateway.rejected("unsupported_type") >= 2)
        let sources = try await gateway.get("/api/v1/sources", user: "admin:\(Self.password)").body
        #expect(sources.contains("sparkplug/test/plant/edge-1/dev-0"))

        // kill -9: the broker publishes the node's will (NDEATH with its bdSeq); node and devices go offline.
        edge.process.signal(SIGKILL)
        try await gateway.process.waitForOutput(containing: "Sparkplug plant/edge-1 is offline", timeout: .seconds(10))
        try await gateway.process.waitForOutput(containing: "Sparkplug plant/edge-1/dev-1 is offline")
        #expect(try await gateway.metric(#"vigil_sparkplug_online{broker="test"}"#) == 0)

        // The node comes back with the next session number.
        let again = try await SparkplugEdgeNode(port: broker.port, directory: directory, arguments: ["--bdseq", "1", "--messages", "3"])
        defer { again.process.stop() }
        try await gateway.process.waitForOutput(containing: "NBIRTH, bdSeq 1", timeout: .seconds(10))
        _ = try await again.process.waitForOutput(containing: "done publishing 3 messages")
        #expect(try await eventually { try await storedRows(dataDir, #"Temperature{node="edge-1"}"#).count == 26 })
        // A clean disconnect sends NDEATH with the same bdSeq.
        #expect(await again.process.waitForExit(timeout: .seconds(10)) == 0)
        try await gateway.process.waitForOutput(containing: "NDEATH, bdSeq 1", timeout: .seconds(10))

        // The gateway dies: the broker publishes its will, STATE offline.
        gateway.process.signal(SIGKILL)
        #expect(try await eventually {
            try await Self.retained(broker, "spBv1.0/STATE/vigil-e2e", directory: directory).contains(#""online":false"#)
        })
    }

    /// A second implementation with another shape: names prefixed in births only, Int64 and Text,
    /// the device on its own connection (its DBIRTH can overtake the NBIRTH, its data the node's),
    /// and deaths numbered differently from births.
    @Test func anEdgeNodeOnTahusPythonCode() async throws {
        let broker = try await MosquittoBroker()
        defer { broker.stop() }
        let directory = try TemporaryDirectory("sparkplug-tahu")
        let gateway = try await RunningGateway(mqttURL: "", config: try gatewayConfig(directory, broker: """
            url: \(broker.url)
            subscriptions:
              - {topic: "spBv1.0/#", format: sparkplug, sparkplug: {host_id: vigil-t}}
            """))
        defer { gateway.process.stop() }
        try await gateway.process.waitForOutput(containing: "connected to MQTT broker")
        let edge = try await SparkplugEdgeNode(port: broker.port, directory: directory,
                                               arguments: ["--messages", "30", "--interval", "0.02", "--stay"], tahu: true)
        defer { edge.process.stop() }
        _ = try await edge.process.waitForOutput(containing: "done publishing 30 messages", timeout: .seconds(30))
        let dataDir = gateway.directory.path("data")
        // The birth's value and 30 data values, in the birth's series, for node and device metrics.
        for selector in [#"DATA_uptime_s{node="edge-t"}"#, #"DATA_water_temperature{device="boiler-1"}"#, #"DATA_pressure_delta{group="tahu"}"#] {
            #expect(try await eventually { try await storedRows(dataDir, selector).count == 31 }, "\(selector)")
        }
        #expect(try await storedRows(dataDir, #"DATA_pressure_delta"#).last?.hasSuffix(",-33.0") == true)
        #expect(try await gateway.metric(#"vigil_sparkplug_rebirth_requests_total{broker="test"}"#) ?? 0 == 0)
        #expect(try await gateway.rejected("sparkplug_no_birth") == 0)
        // kill -9: both wills; the node's death carries another bdSeq than its birth, and still counts.
        edge.process.signal(SIGKILL)
        try await gateway.process.waitForOutput(containing: "Sparkplug tahu/edge-t is offline", timeout: .seconds(10))
        try await gateway.process.waitForOutput(containing: "Sparkplug tahu/edge-t/boiler-1 is offline")
        // A clean stop publishes the host application's STATE offline itself (no will fires).
        #expect(try await Self.retained(broker, "spBv1.0/STATE/vigil-t", directory: directory).contains(#""online":true"#))
        gateway.process.signal(SIGTERM)
        #expect(await gateway.process.waitForExit(timeout: .seconds(10)) == 0)
        #expect(try await Self.retained(broker, "spBv1.0/STATE/vigil-t", directory: directory).contains(#""online":false"#))
    }

    @Test func readOnlyHostsNeverPublishAndHostilePayloadsAreCounted() async throws {
        let broker = try await MosquittoBroker()
        defer { broker.stop() }
        let directory = try TemporaryDirectory("sparkplug-ro")
        let gateway = try await RunningGateway(mqttURL: "", config: try gatewayConfig(directory, broker: """
            url: \(broker.url)
            subscriptions:
              - {topic: "spBv1.0/#", format: sparkplug, sparkplug: {rebirth: false, max_payload: 64KiB}}
            """))
        defer { gateway.process.stop() }
        try await gateway.process.waitForOutput(containing: "connected to MQTT broker")
        // Vigil starts after the node: its data comes before any birth Vigil saw.
        let edge = try await SparkplugEdgeNode(port: broker.port, directory: directory, arguments: ["--messages", "400", "--interval", "0.01"])
        defer { edge.process.stop() }
        let lateDirectory = try TemporaryDirectory("sparkplug-late")
        let late = try await RunningGateway(mqttURL: "", config: try gatewayConfig(lateDirectory, broker: """
            url: \(broker.url)
            client_id: vigil-late
            subscriptions:
              - {topic: "spBv1.0/#", format: sparkplug, sparkplug: {rebirth: false}}
            """))
        defer { late.process.stop() }
        try await late.process.waitForOutput(containing: "connected to MQTT broker")
        _ = try await edge.process.waitForOutput(containing: "done publishing", timeout: .seconds(30))
        #expect(!edge.process.stdout.contains("rebirth requested"))
        #expect(try await eventually { try await late.rejected("sparkplug_no_birth") > 0 })
        #expect(try await late.metric("vigil_sparkplug_rebirth_requests_total") ?? 0 == 0)

        // Garbage, a cut payload and one over max_payload: refused and counted; the gateway lives on.
        try await broker.publish(topic: "spBv1.0/plant/NDATA/edge-1", payload: "definitely not protobuf", qos: 1)
        let big = String(repeating: "A", count: 70_000)
        try await broker.publish(topic: "spBv1.0/plant/NDATA/edge-1", payload: big, qos: 1)
        try await broker.publish(topic: "spBv1.0/plant/NBIRTH", payload: "x", qos: 1)
        #expect(try await eventually {
            let invalid = try await gateway.rejected("invalid_sparkplug")
            let large = try await gateway.rejected("payload_too_large")
            let topic = try await gateway.rejected("sparkplug_bad_topic")
            return invalid >= 1 && large >= 1 && topic >= 1
        })
        #expect(gateway.process.isRunning && late.process.isRunning)
    }

    @Test func mappingExplainReadsAHexPayloadAndAFile() async throws {
        let sample = TestEnvironment.packageRoot.appendingPathComponent("samples/sparkplug.yaml").path
        let hex = "088084cee2a234121f0a0b54656d7065726174757265188084cee2a234200a6900000000008035401803"
        let result = try await vigil(["mapping", "explain", "--config", sample, "spBv1.0/plant/NDATA/edge-1", hex])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains(#"Temperature{group="plant",node="edge-1"} = 21.5"#))
        let directory = try TemporaryDirectory("sparkplug-explain")
        let path = directory.path("payload.bin")
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let fromFile = try await vigil(["mapping", "explain", "--config", sample, "spBv1.0/plant/DDATA/edge-1/pump", "@" + path])
        #expect(fromFile.stdout.contains(#"device="pump""#))
        let bad = try await vigil(["mapping", "explain", "--config", sample, "spBv1.0/plant/NDATA/edge-1", "0a0b"])
        #expect(bad.status == 1 && bad.stdout.contains("invalid_sparkplug"))
    }
}

extension RunningGateway {
    /// `vigil_ingest_rejected_total` for one reason, summed over sources.
    func rejected(_ reason: String) async throws -> Double {
        let body = try await get("/metrics").body
        return body.split(separator: "\n")
            .filter { $0.hasPrefix("vigil_ingest_rejected_total{") && $0.contains("reason=\"\(reason)\"") }
            .compactMap { Double($0.split(separator: " ").last ?? "") }.reduce(0, +)
    }
}
