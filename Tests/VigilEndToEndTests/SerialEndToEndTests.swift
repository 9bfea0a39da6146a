import Foundation
import Synchronization
import Testing
import VigilTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A pseudo-terminal pair made by socat: the gateway opens `device`, the test (or
/// scripts/serial_device.py) writes to `simulator`. Stopping socat is unplugging the device.
final class PtyPair: Sendable {
    let directory: TemporaryDirectory
    let name: String
    private let process: Mutex<ManagedProcess?>

    var device: String { directory.path(name) }
    var simulator: String { directory.path(name + "-sim") }

    init(_ name: String, in directory: TemporaryDirectory) async throws {
        self.directory = directory
        self.name = name
        process = Mutex(nil)
        try await plugIn()
    }

    func plugIn() async throws {
        let socat = try TestEnvironment.tool("socat", package: "socat")
        let started = try ManagedProcess(socat, ["pty,raw,echo=0,link=\(device)", "pty,raw,echo=0,link=\(simulator)"],
                                         directory: directory, name: "socat-\(name)-\(Int.random(in: 0..<1_000_000))")
        process.withLock { $0 = started }
        // Generous: on a loaded 2-core box (CI builds in parallel) socat can take seconds to start,
        // and once took more than 20.
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if FileManager.default.fileExists(atPath: device), FileManager.default.fileExists(atPath: simulator) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestFailure("socat made no pty pair: \(started.stderr)")
    }

    func unplug() async {
        let running = process.withLock { $0 }
        running?.signal(SIGTERM)
        _ = await running?.waitForExit(timeout: .seconds(5))
    }

    /// Writes bytes as the device would send them.
    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        let fd = open(simulator, O_RDWR | O_NOCTTY)
        guard fd >= 0 else { throw TestFailure("cannot open \(simulator)") }
        defer { close(fd) }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw TestFailure("short write to \(simulator)") }
    }

    func stop() {
        process.withLock { $0?.stop() }
    }
}

@Suite("Serial line devices end to end (socat pseudo-terminals)", .serialized)
struct SerialEndToEndTests {
    @Test func linesBecomeReadingsBadInputIsCountedAndAnUnpluggedDeviceComesBack() async throws {
        let ttys = try TemporaryDirectory("serial")
        let weather = try await PtyPair("weather", in: ttys)
        defer { weather.stop() }
        let gps = try await PtyPair("gps", in: ttys)
        defer { gps.stop() }
        let live = try await AlertGateway(alerts: """
            serial:
              ports:
                - name: weather
                  device: \(weather.device)
                  baud: 115200
                  format: csv
                  columns: [temperature, -, humidity]
                  units: {temperature: °C, humidity: "%"}
                  max_frame: 64
                  skip_prefix: "#"
                  labels: {site: roof}
                - name: gps
                  device: \(gps.device)
                  format: nmea
                  metric_prefix: gps_
            """)
        defer { live.stop() }
        func value(_ selector: String) async throws -> Double? {
            let body = try await live.api("/api/v1/last?match[]=" + (selector.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")).body
            let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
            let first = ((object?["data"] as? [String: Any])?["result"] as? [[String: Any]])?.first
            if let pair = first?["value"] as? [Any], let text = pair.last as? String { return Double(text) }
            return nil
        }
        func waitFor(_ selector: String, _ expected: Double, timeout: Duration = .seconds(5)) async throws {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if try await value(selector) == expected { return }
                try await Task.sleep(for: .milliseconds(50))
            }
            throw TestFailure("\(selector) never became \(expected): \(try await live.api("/api/v1/last?match[]=\(selector)").body)")
        }
        func rejected(_ source: String, _ reason: String) async throws -> Double {
            try await live.gateway.metric(#"vigil_ingest_rejected_total{source="\#(source)",reason="\#(reason)"}"#) ?? 0
        }

        try await Task.sleep(for: .milliseconds(300))
        try weather.send("# header line\r\n21.5,x,40\r\n")
        try await waitFor(#"temperature{device="weather"}"#, 21.5)
        // A line in three pieces, then garbage, a short line and an overlong one.
        try weather.send("22.")
        try await Task.sleep(for: .milliseconds(100))
        try weather.send("5,x,4")
        try weather.send("1\r\n")
        try await waitFor(#"humidity{site="roof"}"#, 41)
        try weather.send([0xFF, 0xFE, 0x2C, 0x0A])
        try weather.send("23\n")
        try weather.send(String(repeating: "9", count: 200) + "\n")
        try weather.send("24,x,42\n")
        try await waitFor(#"temperature{device="weather"}"#, 24)
        #expect(try await rejected("serial/weather", "invalid_utf8") == 1)
        #expect(try await rejected("serial/weather", "column_count") == 1)
        #expect(try await rejected("serial/weather", "frame_too_long") == 1)
        let rejects = try await live.api("/api/v1/ingest/rejects").body
        #expect(rejects.contains(#""source":"serial/weather""#) && rejects.contains("frame_too_long"))
        // The port's ledger: 3 lines of 2 readings stored, 3 frames refused, nothing unaccounted.
        var ledger: [String: Any] = [:]
        _ = try await eventually(timeout: .seconds(5)) {
            let body = try await live.api("/api/v1/ingest/ledger").body
            ledger = ((try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["data"] as? [String: Any])?["serial/weather"]
                as? [String: Any] ?? [:]
            return ledger["stored"] as? Int == 6 && ledger["in_flight"] as? Int == 0
        }
        #expect(ledger["received"] as? Int == 9 && ledger["stored"] as? Int == 6, "\(ledger)")
        #expect(ledger["refused"] as? [String: Int] == ["invalid_utf8": 1, "column_count": 1, "frame_too_long": 1], "\(ledger)")

        try gps.send("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n")
        try gps.send("$GPGGA,123519,4807.038,N,01131.000,E,1,09,0.9,545.4,M,46.9,M,,*47\r\n")
        try await waitFor(#"gps_satellites{device="gps"}"#, 8)
        #expect(try await rejected("serial/gps", "checksum_mismatch") == 1)

        // Unplug: the source goes offline; plug back in: online within 2 s, and readings flow.
        await weather.unplug()
        try await waitForSource(live, "serial/weather", state: "disconnected", within: .seconds(3))
        try await Task.sleep(for: .seconds(1))
        try await weather.plugIn()
        let plugged = ContinuousClock.now
        try await waitForSource(live, "serial/weather", state: "connected", within: .seconds(2))
        let back = ContinuousClock.now - plugged
        print("serial device back online \(back) after it reappeared")
        try await Task.sleep(for: .milliseconds(100))
        try weather.send("25,x,43\n")
        try await waitFor(#"temperature{device="weather"}"#, 25)
        #expect(live.gateway.process.isRunning)
    }

    func waitForSource(_ live: AlertGateway, _ name: String, state: String, within timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let body = try await live.api("/api/v1/sources").body
            if let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
               let sources = object["data"] as? [[String: Any]],
               sources.contains(where: { $0["name"] as? String == name && $0["state"] as? String == state }) { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("\(name) was not \(state) within \(timeout): \(try await live.api("/api/v1/sources").body)")
    }

    @Test func aPolledDeviceIsAskedAndAnswers() async throws {
        let ttys = try TemporaryDirectory("serial-poll")
        let meter = try await PtyPair("meter", in: ttys)
        defer { meter.stop() }
        let simulator = try ManagedProcess(try TestEnvironment.tool("python3", package: "python3"),
                                           [TestEnvironment.packageRoot.appendingPathComponent("scripts/serial_device.py").path,
                                            meter.simulator, "answer"], directory: ttys, name: "serial-device")
        defer { simulator.stop() }
        let live = try await AlertGateway(alerts: """
            serial:
              ports:
                - name: meter
                  device: \(meter.device)
                  format: csv
                  columns: [temperature, humidity]
                  poll: {command: "READ\\r", interval: 300ms, timeout: 200ms}
            """)
        defer { live.stop() }
        #expect(try await eventually(every: .milliseconds(100)) {
            (try await live.gateway.metric(#"vigil_ingest_readings_total{source="serial/meter"}"#) ?? 0) >= 4
        }, "two answers, two readings each")
        simulator.stop()
        #expect(try await eventually(within: .seconds(5), every: .milliseconds(100)) {
            (try await live.gateway.metric(#"vigil_ingest_rejected_total{source="serial/meter",reason="reply_timeout"}"#) ?? 0) >= 1
        })
    }
}
