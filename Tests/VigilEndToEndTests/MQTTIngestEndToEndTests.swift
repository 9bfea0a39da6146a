import Foundation
import Testing
import VigilTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A gateway config for one broker, written by the test; `broker` is the YAML of the broker entry.
/// The data directory comes from RunningGateway (VIGIL_DATA_DIR).
func gatewayConfig(_ directory: TemporaryDirectory, broker: String, extra: String = "") throws -> String {
    try directory.write("vigil.yaml", """
        data_dir: ${VIGIL_DATA_DIR}
        http:
          listen: 127.0.0.1:0
          tls: self-signed
        auth:
          users:
            - name: admin
              password_hash: ${VIGIL_ADMIN_HASH:-}
        logging:
          ingest_summary: 0
        store:
          flush_interval: 100ms
        \(extra)
        mqtt:
          brokers:
            - name: test
        \(broker.split(separator: "\n").map { "      " + $0 }.joined(separator: "\n"))
        """)
}

/// Runs `vigil query` on a gateway's data directory and returns the CSV rows (without the header).
func storedRows(_ dataDir: String, _ selector: String) async throws -> [String] {
    let result = try await vigil(["query", "--data-dir", dataDir, selector, "--start=-30d", "--end=+1d", "--format", "csv"])
    guard result.status == 0 else { throw TestFailure("vigil query failed: \(result.stderr)") }
    return result.stdout.split(separator: "\n").dropFirst().map(String.init)
}

func eventually(timeout: Duration = .seconds(15), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(100))
    }
    return try await condition()
}

@Suite("MQTT ingest end to end, with a real mosquitto", .serialized)
struct MQTTIngestEndToEndTests {
    static let password = "pw-\(UInt32.random(in: 0...UInt32.max))"

    @Test func everyPayloadFormatFromSamplesMQTTYamlIsStoredAndRejectsAreServed() async throws {
        let broker = try await MosquittoBroker()
        defer { broker.stop() }
        let gateway = try await RunningGateway(
            mqttURL: broker.url, config: TestEnvironment.packageRoot.appendingPathComponent("samples/mqtt.yaml").path,
            extraEnvironment: ["VIGIL_ADMIN_HASH": TestCredentials.passwordHash(Self.password)])
        defer { gateway.process.stop() }
        try await gateway.process.waitForOutput(containing: "connected to MQTT broker")
        let now = Int(Date().timeIntervalSince1970)
        try await broker.publish(topic: "sensors/north/boiler-1/temperature", payload: "71.5")
        try await broker.publish(topic: "devices/meter-7/telemetry",
                                 payload: #"{"ts": \#(now), "power_kw": 1.5, "energy_wh": 123400, "env": {"temp_f": 71.6}}"#)
        try await broker.publish(topic: "gateways/g1/batch",
                                 payload: #"{"readings": [{"id": "a", "t": \#(now * 1000), "value": 4.5}]}"#)
        try await broker.publish(topic: "influx/lab", payload: "weather,site=lab temp=19.5 \(now)000000000")
        try await broker.publish(topic: "senml/x", payload: #"[{"bn":"urn:dev:ow:10e2:","bt":\#(now),"n":"humidity","u":"%RH","v":41}]"#)
        // Malformed ones: each counted under its reason, nothing else lost.
        try await broker.publish(topic: "devices/meter-7/telemetry", payload: #"{"ts": 1, "power_kw": "#)
        try await broker.publish(topic: "sensors/north/boiler-1/temperature", payload: "hot")
        try await broker.publish(topic: "sensors/north/boiler-1/temperature", payload: "999")

        let dataDir = gateway.directory.path("data")
        let expected = [
            (#"temperature{device="boiler-1""#, "71.5"), (#"power{device="meter-7"}"#, "1500.0"),
            (#"energy{device="meter-7"}"#, "123.4"), (#"temperature{device="meter-7"}"#, "22.0"),
            (#"line{sensor="a"}"#, "4.5"), (#"weather_temp{site="lab"}"#, "19.5"),
            (#"humidity{device="urn:dev:ow:10e2"}"#, "41.0"),
        ]
        let stored = try await eventually {
            let rows = try await storedRows(dataDir, #"{__name__=~".+"}"#).joined(separator: "\n").replacingOccurrences(of: "\"\"", with: "\"")
            return expected.allSatisfy { series, value in rows.contains(series) && rows.contains(",\(value)") }
        }
        let rows = try await storedRows(dataDir, #"{__name__=~".+"}"#)
        #expect(stored, "\(rows)")

        let metrics = try await gateway.get("/metrics").body
        #expect(metrics.contains(#"vigil_ingest_rejected_total{source="mqtt/local",reason="invalid_json"} 1"#))
        #expect(metrics.contains(#"vigil_ingest_rejected_total{source="mqtt/local",reason="not_a_number"} 1"#))
        #expect(metrics.contains(#"vigil_ingest_rejected_total{source="mqtt/local",reason="out_of_bounds"} 1"#))
        let rejects = try await gateway.get("/api/v1/ingest/rejects", user: "admin:\(Self.password)")
        #expect(rejects.status == 200)
        #expect(rejects.body.contains(#""reason":"out_of_bounds""#) && rejects.body.contains(#""payload":"hot""#), "\(rejects.body)")
        let sources = try await gateway.get("/api/v1/sources", user: "admin:\(Self.password)")
        #expect(sources.body.contains(#""name":"mqtt/local","kind":"mqtt","state":"connected""#), "\(sources.body)")
    }

    @Test func tlsWithATestCAAndAPasswordFile() async throws {
        let directory = try TemporaryDirectory()
        let certificates = try await TestCertificates(in: directory)
        let other = try await TestCertificates(in: directory, name: "other")
        let passwords = try directory.write("passwd", "")
        let tool = try TestEnvironment.tool("mosquitto_passwd", package: "mosquitto")
        let passwd = try ManagedProcess(tool, ["-b", passwords, "vigil", "s3cret"], directory: directory, name: "passwd")
        #expect(try await passwd.finish() == 0)
        let broker = try await MosquittoBroker(configuration: """
            listener {port} 127.0.0.1
            # Run as root, mosquitto would switch to the mosquitto user, which cannot read the test's files.
            user root
            cafile \(certificates.caCertificate)
            certfile \(certificates.serverCertificate)
            keyfile \(certificates.serverKey)
            allow_anonymous false
            password_file \(passwords)
            persistence false
            log_dest stderr
            """)
        defer { broker.stop() }
        let tlsArguments = ["--cafile", certificates.caCertificate, "-u", "vigil", "-P", "s3cret"]

        // The right CA and password: connected, readings stored.
        let good = try TemporaryDirectory()
        let config = try gatewayConfig(good, broker: """
            url: mqtts://127.0.0.1:\(broker.port)
            tls: {ca_file: \(certificates.caCertificate)}
            username: vigil
            password: s3cret
            subscriptions:
              - {topic: "t/+", pattern: "t/{metric}"}
            """)
        let gateway = try await RunningGateway(mqttURL: "", config: config)
        try await gateway.process.waitForOutput(containing: "connected to MQTT broker")
        try await broker.publish(topic: "t/secure", payload: "42", arguments: tlsArguments)
        #expect(try await eventually { try await storedRows(gateway.directory.path("data"), "secure").count == 1 })
        #expect(!gateway.process.stderr.contains("s3cret"))  // secrets never logged
        gateway.process.stop()

        // Another CA, or a wrong password: one clear line each, then quiet retries with backoff.
        let configDirectories = [try TemporaryDirectory(), try TemporaryDirectory()]  // alive until the end
        func failingGateway(ca: String, password: String) async throws -> RunningGateway {
            try await RunningGateway(mqttURL: "", config: try gatewayConfig(configDirectories[password == "wrong" ? 1 : 0], broker: """
                url: mqtts://127.0.0.1:\(broker.port)
                tls: {ca_file: \(ca)}
                username: vigil
                password: \(password)
                reconnect: {min_delay: 200ms, max_delay: 400ms}
                subscriptions:
                  - {topic: "t/+", pattern: "t/{metric}"}
                """))
        }
        let wrong = try await failingGateway(ca: other.caCertificate, password: "s3cret")
        let refused = try await failingGateway(ca: certificates.caCertificate, password: "wrong")
        try await Task.sleep(for: .seconds(3))
        #expect(try await wrong.metric("vigil_mqtt_connects_total") ?? 0 == 0)
        let lines = wrong.process.stderr.components(separatedBy: "cannot connect to MQTT broker").count - 1
        #expect(lines == 1, "\(wrong.process.stderr)")
        let refusals = refused.process.stderr.components(separatedBy: "broker refused the connection").count - 1
        #expect(refusals == 1, "\(refused.process.stderr)")
        #expect(!refused.process.stderr.contains("wrong,") && !refused.process.stderr.contains("password=wrong"))
        wrong.process.stop()
        refused.process.stop()
    }

    /// 1000 QoS 1 messages published while the gateway is disconnected (the broker restarted and
    /// the gateway is still backing off) are all stored once it reconnects: the persistent session.
    @Test(arguments: ["3.1.1", "5"])
    func aBrokerRestartLosesNothing(protocolVersion: String) async throws {
        let brokerDirectory = try TemporaryDirectory("mosquitto-persistent")
        let configuration = """
            listener {port} 127.0.0.1
            user root
            allow_anonymous true
            persistence true
            persistence_location {dir}/
            max_queued_messages 10000
            log_dest stderr
            """
        var broker = try await MosquittoBroker(configuration: configuration, directory: brokerDirectory)
        let port = broker.port
        let directory = try TemporaryDirectory()
        let gateway = try await RunningGateway(mqttURL: "", config: try gatewayConfig(directory, broker: """
            url: mqtt://127.0.0.1:\(port)
            protocol: "\(protocolVersion)"
            session_expiry: 1h
            clean_session: false
            reconnect: {min_delay: 4s, max_delay: 4s}
            subscriptions:
              - topic: "line/+"
                pattern: "line/{device}"
                metric: count
                qos: 1
                format: json
                json:
                  timestamp: {path: t, unit: ms}
                  fields: [{path: value}]
            """))
        defer { gateway.process.stop() }
        try await gateway.process.waitForOutput(containing: "connected to MQTT broker")

        broker.process.signal(SIGTERM)  // mosquitto writes its persistence file on exit
        _ = await broker.process.waitForExit(timeout: .seconds(10))
        try await gateway.process.waitForOutput(containing: "MQTT connection lost")
        broker = try await MosquittoBroker(port: port, configuration: configuration, directory: brokerDirectory)
        defer { broker.stop() }
        let base = Int64(Date().timeIntervalSince1970 * 1000) - 60_000
        try await broker.publish(topic: "line/press-1", lines: (0..<1000).map { #"{"t": \#(base + Int64($0)), "value": \#($0)}"# })

        let dataDir = gateway.directory.path("data")
        let all = try await eventually(timeout: .seconds(30)) { try await storedRows(dataDir, "count").count >= 1000 }
        let rows = try await storedRows(dataDir, "count")
        #expect(all && rows.count == 1000, "\(rows.count) of 1000 stored; gateway log:\n\(gateway.process.stderr.suffix(3000))\nbroker:\n\(broker.process.stderr.suffix(2000))")
        #expect(Set(rows.map { $0.split(separator: ",").last! }).count == 1000)
    }

    @Test func aSilentSubscriptionIsReportedAndReconnected() async throws {
        let broker = try await MosquittoBroker()
        defer { broker.stop() }
        let directory = try TemporaryDirectory()
        let gateway = try await RunningGateway(mqttURL: "", config: try gatewayConfig(directory, broker: """
            url: \(broker.url)
            reconnect: {min_delay: 100ms, max_delay: 200ms}
            subscriptions:
              - {topic: "quiet/+", pattern: "quiet/{metric}", expect_every: 300ms, silence_factor: 2}
            """))
        defer { gateway.process.stop() }
        try await gateway.process.waitForOutput(containing: "connected to MQTT broker")
        try await gateway.process.waitForOutput(containing: "connected but silent", timeout: .seconds(5))
        #expect(try await eventually { (try await gateway.metric("vigil_mqtt_connects_total") ?? 0) >= 2 })
        #expect(try await gateway.metric(#"vigil_mqtt_silent_total{broker="test",subscription="quiet/+"}"#) ?? 0 >= 1)
        // Messages keep the watchdog quiet.
        let before = try await gateway.metric(#"vigil_mqtt_silent_total{broker="test",subscription="quiet/+"}"#) ?? 0
        for _ in 0..<8 {
            try await broker.publish(topic: "quiet/x", payload: "1", qos: 0)
            try await Task.sleep(for: .milliseconds(150))
        }
        let after = try await gateway.metric(#"vigil_mqtt_silent_total{broker="test",subscription="quiet/+"}"#) ?? 0
        #expect(after - before <= 1)
    }
}
