import Foundation
import Testing
import VigilTestSupport

/// scripts/modbus_slave.py (pymodbus from the test venv) on a pty (RTU) or a loopback port (TCP).
final class ModbusSlave: Sendable {
    let process: ManagedProcess

    init(rtu path: String? = nil, tcp port: Int? = nil, directory: TemporaryDirectory) async throws {
        let python = TestEnvironment.packageRoot.appendingPathComponent(".build/test-venv/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw TestFailure("no \(python): run `scripts/install-deps.sh test` (make test does)")
        }
        let script = TestEnvironment.packageRoot.appendingPathComponent("scripts/modbus_slave.py").path
        let arguments = path.map { ["--rtu", $0] } ?? ["--tcp", "\(port ?? 5020)"]
        process = try ManagedProcess(python, [script] + arguments, directory: directory, name: "modbus-slave-\(port ?? 0)")
        _ = try await process.waitForOutput(containing: "modbus slave ready")
        if let port {
            try await eventually { TestEnvironment.isListening(port: port) }
        } else {
            try await Task.sleep(for: .milliseconds(300))
        }
    }

    func stop() { process.stop() }
}

@Suite("Modbus RTU and TCP end to end (pymodbus slaves)", .serialized)
struct ModbusEndToEndTests {
    static let registerMap = """
                  registers:
                    - {name: t_int16, address: 0, type: int16}
                    - {name: t_uint16, address: 1, type: uint16}
                    - {name: t_int32, address: 2, type: int32}
                    - {name: t_uint32, address: 4, type: uint32}
                    - {name: t_float32, address: 6, type: float32, unit: "°C"}
                    - {name: t_float64, address: 8, type: float64}
                    - {name: t_float32_lw, address: 12, type: float32, word_order: little}
                    - {name: t_float32_lb, address: 14, type: float32, byte_order: little}
                    - {name: t_int32_ll, address: 16, type: int32, word_order: little, byte_order: little}
                    - {name: voltage, table: input, address: 0, scale: 0.1, unit: V}
                    - {name: temp_in, table: input, address: 1, type: int16, offset: 0.5}
                    - {name: relay, table: coil, address: 2}
                    - {name: door, table: discrete, address: 1}
        """

    static let expected: [(String, Double)] = [
        ("t_int16", -2), ("t_uint16", 65000), ("t_int32", -100_000), ("t_uint32", 3_000_000_000), ("t_float32", 21.5),
        ("t_float64", 1234.5678), ("t_float32_lw", 21.5), ("t_float32_lb", 21.5), ("t_int32_ll", -100_000),
        ("voltage", 230.5), ("temp_in", -39.5), ("relay", 1), ("door", 1),
    ]

    @Test func everyTypeAndOrderDecodesExceptionsAreCountedAndADeadDeviceDoesNotStallTheOthers() async throws {
        let directory = try TemporaryDirectory("modbus")
        let line = try await PtyPair("rs485", in: directory)
        defer { line.stop() }
        let rtuSlave = try await ModbusSlave(rtu: line.simulator, directory: directory)
        defer { rtuSlave.stop() }
        let tcpPort = TestEnvironment.freePort()
        let tcpSlave = try await ModbusSlave(tcp: tcpPort, directory: directory)
        defer { tcpSlave.stop() }
        let live = try await AlertGateway(alerts: """
            modbus:
              buses:
                - name: line1
                  device: \(line.device)
                  baud: 115200
                  timeout: 200ms
                  retries: 1
                  devices:
                    - name: meter1
                      slave: 1
                      poll_interval: 250ms
            \(Self.registerMap)
                    - name: broken
                      slave: 2
                      poll_interval: 500ms
                      registers: [{name: missing, address: 100}]
                    - name: ghost
                      slave: 9
                      poll_interval: 250ms
                      registers: [{name: ghost_value, address: 0}]
                - name: plc
                  transport: tcp
                  host: 127.0.0.1
                  port: \(tcpPort)
                  devices:
                    - name: plc1
                      slave: 1
                      poll_interval: 250ms
                      registers:
                        - {name: plc_float64, address: 8, type: float64}
                        - {name: plc_int32_ll, address: 16, type: int32, word_order: little, byte_order: little}
            """)
        defer { live.stop() }

        func last(_ metric: String, device: String) async throws -> Double? {
            let selector = #"\#(metric){device="\#(device)"}"#.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            let body = try await live.api("/api/v1/last?match[]=" + selector).body
            let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
            let first = ((object?["data"] as? [String: Any])?["result"] as? [[String: Any]])?.first
            return (first?["value"] as? [Any])?.last.flatMap { $0 as? String }.flatMap(Double.init)
        }
        try await eventually(every: .milliseconds(100)) { try await last("door", device: "meter1") != nil }
        for (metric, value) in Self.expected {
            #expect(try await last(metric, device: "meter1") == value, "\(metric)")
        }
        #expect(try await last("plc_float64", device: "plc1") == 1234.5678)
        #expect(try await last("plc_int32_ll", device: "plc1") == -100_000)

        try await Task.sleep(for: .seconds(3))
        let exceptions = try await live.gateway.metric(
            #"vigil_modbus_exceptions_total{bus="line1",device="broken",code="2",reason="illegal data address"}"#) ?? 0
        #expect(exceptions >= 2)
        #expect(try await live.gateway.metric(#"vigil_modbus_device_up{bus="line1",device="ghost"}"#) == 0)
        #expect((try await live.gateway.metric(#"vigil_modbus_requests_total{bus="line1",device="ghost",result="timeout"}"#) ?? 0) >= 2)
        let achieved = try await live.gateway.metric(#"vigil_modbus_poll_rate_hertz{bus="line1",device="meter1",kind="achieved"}"#) ?? 0
        let configured = try await live.gateway.metric(#"vigil_modbus_poll_rate_hertz{bus="line1",device="meter1",kind="configured"}"#) ?? 0
        print("meter1 polls: configured \(configured)/s, achieved \(achieved)/s beside a dead device")
        #expect(configured == 4)
        #expect(achieved >= 3, "the dead device is backed off and does not stall meter1")
        let rejects = try await live.api("/api/v1/ingest/rejects").body
        #expect(rejects.contains("modbus_exception") && rejects.contains("illegal data address"))
        let sources = try await live.api("/api/v1/sources").body
        #expect(sources.contains(#""name":"modbus/line1""#) && sources.contains("devices answering"))
        // The bus's ledger: polls stored, exceptions refused with their reason, at most a poll or
        // two in flight while polling goes on.
        let body = try await live.api("/api/v1/ingest/ledger").body
        let ledger = ((try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["data"] as? [String: Any])?["modbus/line1"]
            as? [String: Any] ?? [:]
        #expect((ledger["stored"] as? Int ?? 0) > 0, "\(ledger)")
        #expect(((ledger["refused"] as? [String: Int])?["modbus_exception"] ?? 0) >= 1, "\(ledger)")
        #expect((0..<100).contains(ledger["in_flight"] as? Int ?? -1), "\(ledger)")
        #expect((ledger["dropped"] as? [String: Int] ?? [:]).isEmpty, "\(ledger)")
    }

    /// samples/modbus.yaml as shipped, against the pymodbus slaves it names; then the RS-485
    /// adapter is unplugged (the pty and the slave stop) and plugged back in.
    @Test func theSampleRunsAgainstTheSimulatorsAndSurvivesAnUnpluggedAdapter() async throws {
        let directory = try TemporaryDirectory("modbus-sample")
        let line = try await PtyPair("rs485", in: directory)
        defer { line.stop() }
        var rtuSlave = try await ModbusSlave(rtu: line.simulator, directory: directory)
        defer { rtuSlave.stop() }
        let tcpPort = TestEnvironment.freePort()
        let tcpSlave = try await ModbusSlave(tcp: tcpPort, directory: directory)
        defer { tcpSlave.stop() }
        let gateway = try await RunningGateway(
            mqttURL: "mqtt://127.0.0.1:1", config: TestEnvironment.packageRoot.appendingPathComponent("samples/modbus.yaml").path,
            extraEnvironment: ["VIGIL_RS485": line.device, "VIGIL_PLC_PORT": "\(tcpPort)"])
        defer { gateway.process.stop() }
        func ok(_ device: String) async throws -> Double {
            try await gateway.metric(#"vigil_modbus_requests_total{bus="\#(device == "plc-1" ? "plc" : "line1")",device="\#(device)",result="ok"}"#) ?? 0
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            let meter = try await ok("meter-1"), plc = try await ok("plc-1")
            if meter >= 2, plc >= 1 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let meter1 = try await ok("meter-1"), meter2 = try await ok("meter-2"), plc1 = try await ok("plc-1")
        #expect(meter1 >= 2 && meter2 >= 1 && plc1 >= 1)

        rtuSlave.stop()
        await line.unplug()
        try await gateway.process.waitForOutput(containing: "Modbus bus lost, reopening")
        try await line.plugIn()
        rtuSlave = try await ModbusSlave(rtu: line.simulator, directory: directory)
        let before = try await ok("meter-1")
        let back = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < back, try await ok("meter-1") <= before { try await Task.sleep(for: .milliseconds(100)) }
        #expect(try await ok("meter-1") > before, "polling resumes after the adapter is back")
    }
}
