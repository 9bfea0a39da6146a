import Foundation
import Testing
import VigilTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A `vigil run` of samples/demo.yaml on ephemeral loopback ports, with its own data directory.
final class RunningGateway: Sendable {
    let process: ManagedProcess
    let directory: TemporaryDirectory
    let baseURL: String
    var caCertificate: String { directory.path("data/tls/self-signed.crt") }

    /// `directory` reuses a data directory (a restart); by default each gateway gets a new one.
    init(mqttURL: String, config: String? = nil, extraEnvironment: [String: String] = [:],
         directory reused: TemporaryDirectory? = nil) async throws {
        directory = try reused ?? TemporaryDirectory("vigil-run")
        let configPath = config ?? TestEnvironment.packageRoot.appendingPathComponent("samples/demo.yaml").path
        var environment = ["VIGIL_LISTEN": "127.0.0.1:0", "VIGIL_DATA_DIR": directory.path("data"),
                           "VIGIL_MQTT_URL": mqttURL]
        for (key, value) in extraEnvironment { environment[key] = value }
        let name = "vigil-run-\(Int.random(in: 0..<1_000_000))"
        process = try ManagedProcess(try TestEnvironment.vigilBinary(), ["run", "--config", configPath],
                                     environment: environment, directory: directory, name: name)
        let line = try await process.waitForOutput(containing: "notice vigil: listening")
        guard let range = line.range(of: "url=") else { throw TestFailure("no url in: \(line)") }
        baseURL = String(line[range.upperBound...].prefix { $0 != " " }).trimmingCharacters(in: CharacterSet(charactersIn: "/"))
    }

    func get(_ path: String) async throws -> Curl.Response {
        try await Curl.get(baseURL + path, caCertificate: caCertificate)
    }

    /// The value of a Prometheus sample line starting with `prefix`, or nil.
    func metric(_ prefix: String) async throws -> Double? {
        let body = try await get("/metrics").body
        guard let line = body.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return nil }
        return Double(line.split(separator: " ").last ?? "")
    }
}

@Suite("vigil run end to end: HTTPS, MQTT ingest, signals", .serialized)
struct GatewayRunTests {
    @Test func readingsFlowFromTheSimulatorAndSIGTERMExitsCleanly() async throws {
        let broker = try await MosquittoBroker()
        defer { broker.stop() }
        let gateway = try await RunningGateway(mqttURL: broker.url)

        // The certificate verifies against the self-signed cert the gateway wrote (SAN 127.0.0.1).
        let health = try await gateway.get("/healthz")
        #expect(health.status == 200)
        #expect(health.body == "ok\n")

        try await gateway.process.waitForOutput(containing: "connected to MQTT broker")
        let ready = try await gateway.get("/readyz")
        #expect(ready.status == 200)
        #expect(ready.body.contains(#""status":"ready""#))

        let simulator = try await vigil(["simulate", "--mqtt", broker.url, "--devices", "4", "--ticks", "3",
                                         "--rate", "10", "--qos", "1"])
        #expect(simulator.status == 0, "\(simulator.stderr)")
        let published = Double(simulator.stderr.components(separatedBy: "published=").last?.prefix { $0.isNumber } ?? "") ?? 0
        #expect(published == 30)  // 4 devices (2 rooms, 2 fridges) × 3 ticks

        let deadline = ContinuousClock.now + .seconds(10)
        var ingested = 0.0
        while ContinuousClock.now < deadline {
            ingested = try await gateway.metric(#"vigil_ingest_readings_total{source="mqtt/local"}"#) ?? 0
            if ingested >= published { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(ingested == published)
        let metrics = try await gateway.get("/metrics").body
        #expect(metrics.contains(#"vigil_build_info{version="0.1.0""#))
        #expect(metrics.contains("process_resident_memory_bytes "))
        #expect(metrics.contains(#"vigil_source_up{source="mqtt/local",kind="mqtt"} 1"#))
        #expect(metrics.contains(#"vigil_bus_dropped_readings_total{subscriber="ingest-summary"} 0"#))

        let start = ContinuousClock.now
        gateway.process.signal(SIGTERM)
        let status = await gateway.process.waitForExit(timeout: .seconds(5))
        #expect(status == 0, "\(gateway.process.stderr)")
        #expect(ContinuousClock.now - start < .seconds(5))
        let log = gateway.process.stderr
        #expect(log.contains("MQTT source stopped"))
        #expect(log.contains("notice vigil: stopped"))
        // The drain order: ingest stops before the last summary flush, the listener last.
        let order = ["MQTT source stopped", "ingest summary", "notice vigil: stopped"].map { log.range(of: $0, options: .backwards)?.lowerBound }
        #expect(order[0]! < order[1]! && order[1]! < order[2]!)
    }

    @Test func notReadyWhileTheBrokerIsDownAndReadyOnceItIsUp() async throws {
        let port = TestEnvironment.freePort()
        let gateway = try await RunningGateway(mqttURL: "mqtt://127.0.0.1:\(port)")
        defer { gateway.process.stop() }
        let down = try await gateway.get("/readyz")
        #expect(down.status == 503)
        #expect(down.body.contains(#""ok":false"#))
        let broker = try await MosquittoBroker(port: port)
        defer { broker.stop() }
        try await gateway.process.waitForOutput(containing: "connected to MQTT broker", timeout: .seconds(20))
        #expect(try await gateway.get("/readyz").status == 200)
        // One warning for the outage, not one per retry.
        let warnings = gateway.process.stderr.components(separatedBy: "cannot connect to MQTT broker").count - 1
        #expect(warnings == 1)
    }

    @Test func aPortInUseIsOneLineAndExitStatusOne() async throws {
        let broker = try await MosquittoBroker()
        defer { broker.stop() }
        let directory = try TemporaryDirectory()
        let process = try ManagedProcess(
            try TestEnvironment.vigilBinary(),
            ["run", "--config", TestEnvironment.packageRoot.appendingPathComponent("samples/minimal.yaml").path],
            environment: ["VIGIL_LISTEN": "127.0.0.1:\(broker.port)", "VIGIL_DATA_DIR": directory.path("data")],
            directory: directory, name: "vigil-port")
        let status = try await process.finish(timeout: .seconds(15))
        #expect(status == 1)
        let lastLine = process.stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(lastLine.hasPrefix("vigil: cannot listen on 127.0.0.1:\(broker.port) (http.listen at "))
        #expect(lastLine.hasSuffix("): address already in use"))
        #expect(!process.stderr.contains("Fatal error"))
    }

    @Test func twoGatewaysCannotShareADataDirectory() async throws {
        let directory = try TemporaryDirectory()
        let config = TestEnvironment.packageRoot.appendingPathComponent("samples/minimal.yaml").path
        let environment = ["VIGIL_LISTEN": "127.0.0.1:0", "VIGIL_DATA_DIR": directory.path("data")]
        let first = try ManagedProcess(try TestEnvironment.vigilBinary(), ["run", "--config", config],
                                       environment: environment, directory: directory, name: "first")
        defer { first.stop() }
        try await first.waitForOutput(containing: "listening")
        let second = try ManagedProcess(try TestEnvironment.vigilBinary(), ["run", "--config", config],
                                        environment: environment, directory: directory, name: "second")
        #expect(try await second.finish(timeout: .seconds(15)) == 1)
        #expect(second.stderr.contains("is in use by another vigil process (pid \(first.pid))"))
    }

    @Test func sighupReloadsAValidConfigAndRejectsABadOne() async throws {
        let directory = try TemporaryDirectory()
        let config = try directory.write("vigil.yaml", "data_dir: \(directory.path("data"))\nhttp:\n  listen: 127.0.0.1:0\nlogging:\n  level: info\n")
        let process = try ManagedProcess(try TestEnvironment.vigilBinary(), ["run", "--config", config],
                                         directory: directory, name: "vigil-reload")
        defer { process.stop() }
        try await process.waitForOutput(containing: "listening")

        try "data_dir: \(directory.path("data"))\nhttp:\n  listen: 127.0.0.1:0\nlogging:\n  level: debug\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        process.signal(SIGHUP)
        try await process.waitForOutput(containing: "configuration reloaded")

        try "data_dir: \(directory.path("data"))\nhttp:\n  listen: 127.0.0.1:0\nlogging:\n  levle: debug\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        process.signal(SIGHUP)
        let rejected = try await process.waitForOutput(containing: "reload rejected")
        #expect(rejected.contains("vigil.yaml:5:3: unknown key 'levle' in logging (did you mean 'level'?)"))
        #expect(process.isRunning)
    }
}
