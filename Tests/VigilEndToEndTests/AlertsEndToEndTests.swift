import Foundation
import Synchronization
import Testing
import VigilTestSupport

/// A gateway with alert rules, API tokens for a viewer and an operator, and a broker, which can
/// be restarted on the same data directory.
final class AlertGateway: Sendable {
    static let viewerToken = "vgl_viewer_token_0123456789"
    static let operatorToken = "vgl_operator_token_0123456789"
    let broker: MosquittoBroker
    let configDirectory: TemporaryDirectory
    let dataDirectory: TemporaryDirectory
    let config: String
    private let current: Mutex<RunningGateway>

    var gateway: RunningGateway { current.withLock { $0 } }

    /// `listen` fixed (not port 0) keeps the address across a restart, for a browser to reconnect;
    /// `users` adds `viewer` and `operator` logins with `LiveGateway.password`.
    init(alerts: String, broker existing: MosquittoBroker? = nil, extraFiles: [String: String] = [:],
         listen: String = "127.0.0.1:0", users: Bool = false) async throws {
        if let existing { broker = existing } else { broker = try await MosquittoBroker() }
        configDirectory = try TemporaryDirectory("alert-config")
        dataDirectory = try TemporaryDirectory("alert-data")
        for (name, text) in extraFiles { _ = try configDirectory.write(name, text) }
        let tokens = [("viewer-bot", Self.viewerToken, "viewer"), ("ops-bot", Self.operatorToken, "operator")].map { name, token, role in
            "    - {name: \(name), sha256: \(TestCredentials.tokenSHA256(token)), role: \(role)}"
        }.joined(separator: "\n")
        let hash = TestCredentials.passwordHash(LiveGateway.password)
        let logins = users ? """
              users:
                - {name: viewer, password_hash: "\(hash)", role: viewer}
                - {name: operator, password_hash: "\(hash)", role: operator}
            """ : ""
        config = try configDirectory.write("vigil.yaml", """
            data_dir: ${VIGIL_DATA_DIR}
            http:
              listen: \(listen)
            auth:
            \(logins)
              tokens:
            \(tokens)
            logging: {ingest_summary: 0}
            store: {flush_interval: 100ms}
            mqtt:
              brokers:
                - name: local
                  url: \(broker.url)
                  subscriptions:
                    - {topic: "s/+/+", pattern: "s/{device}/{metric}"}
            \(alerts)
            """)
        current = Mutex(try await RunningGateway(mqttURL: broker.url, config: config, directory: dataDirectory))
        try await gateway.process.waitForOutput(containing: "connected to MQTT broker")
    }

    /// SIGTERM (or SIGKILL with `crash`), then a new process on the same data directory.
    func restart(crash: Bool = false) async throws {
        let old = gateway
        old.process.signal(crash ? SIGKILL : SIGTERM)
        _ = await old.process.waitForExit(timeout: .seconds(15))
        let next = try await RunningGateway(mqttURL: broker.url, config: config, directory: dataDirectory)
        current.withLock { $0 = next }
        try await next.process.waitForOutput(containing: "connected to MQTT broker")
    }

    func publish(_ device: String, _ metric: String, _ value: Double) async throws {
        try await broker.publish(topic: "s/\(device)/\(metric)", payload: "\(value)")
    }

    func api(_ path: String, token: String = AlertGateway.viewerToken, post body: String? = nil, method: String? = nil) async throws -> Curl.Response {
        var arguments: [String] = []
        if let body { arguments += ["-H", "Content-Type: application/json", "--data", body] }
        if let method { arguments += ["-X", method] }
        return try await Curl.get(gateway.baseURL + path, caCertificate: gateway.caCertificate,
                                  headers: ["Authorization: Bearer \(token)"], arguments: arguments)
    }

    /// The alerts the API lists now.
    func alerts() async throws -> [[String: Any]] {
        let body = try await api("/api/v1/alerts").body
        let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        return ((object?["data"] as? [String: Any])?["alerts"] as? [[String: Any]]) ?? []
    }

    func waitForAlert(_ predicate: @escaping ([String: Any]) -> Bool, timeout: Duration = .seconds(10)) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let found = try await alerts().first(where: predicate) { return found }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestFailure("no such alert within \(timeout): \(try await alerts())")
    }

    func stop() {
        gateway.process.stop()
        broker.stop()
    }
}

func body(_ record: [String: Any]) -> [String: Any] { record["body"] as? [String: Any] ?? [:] }

@Suite("Alerts end to end: rules, notifiers, outbox, restart, API, reload", .serialized)
struct AlertsEndToEndTests {
    static let hotRule = """
          rules:
            - name: Hot
              selector: temp
              threshold: "> 50"
              severity: critical
              annotations:
                summary: "{{ $labels.device }} at {{ $value }}"
        """

    @Test func firingGoesToASignedWebhookAndMQTTAndSurvivesARestartWithoutDuplicates() async throws {
        let sink = try await WebhookSink(secret: "s3cret")
        defer { sink.stop() }
        let live = try await AlertGateway(alerts: """
            alerts:
              evaluation_interval: 200ms
              notifiers:
                - {name: hook, type: webhook, url: "\(sink.url)", secret: s3cret}
                - {name: bus, type: mqtt, broker: local, topic: "vigil/alerts/{{ $rule }}/{{ $labels.device }}", qos: 1}
            \(Self.hotRule)
            """)
        defer { live.stop() }
        let subscriber = try ManagedProcess(try TestEnvironment.tool("mosquitto_sub", package: "mosquitto-clients"),
                                            ["-h", "127.0.0.1", "-p", "\(live.broker.port)", "-t", "vigil/alerts/#", "-v", "-C", "2"],
                                            directory: sink.directory, name: "mosquitto-sub")
        defer { subscriber.stop() }
        try await Task.sleep(for: .milliseconds(300))

        try await live.publish("d1", "temp", 60)
        let first = try await sink.waitFor(1)
        #expect(first[0]["signature_ok"] as? Bool == true)
        let firing = body(first[0])
        #expect(firing["status"] as? String == "firing" && firing["reason"] as? String == "firing")
        #expect((firing["labels"] as? [String: String])?["device"] == "d1")
        #expect((firing["annotations"] as? [String: String])?["summary"] == "d1 at 60")
        #expect(first[0]["id"] as? String == firing["id"] as? String)

        let alert = try await live.waitForAlert { $0["rule"] as? String == "Hot" }
        #expect(alert["state"] as? String == "firing")
        let metrics = try await live.gateway.get("/metrics").body
        #expect(metrics.contains(#"vigil_alerts{rule="Hot",state="firing"} 1"#))
        #expect(metrics.contains(#"vigil_alert_notifications_sent_total{notifier="hook",type="webhook"} 1"#))

        // Restart while firing: state comes back, nothing is sent again.
        try await live.restart()
        try await live.gateway.process.waitForOutput(containing: "alert state restored")
        try await Task.sleep(for: .seconds(1))
        #expect(sink.records().count == 1, "no duplicate after the restart")
        #expect(try await live.alerts().first?["state"] as? String == "firing")

        try await live.publish("d1", "temp", 40)
        let both = try await sink.waitFor(2)
        let resolved = body(both[1])
        #expect(resolved["status"] as? String == "resolved" && resolved["alert"] as? String == firing["alert"] as? String)
        #expect(resolved["id"] as? String != firing["id"] as? String)
        #expect(resolved["endsAt"] is String)

        #expect(try await subscriber.finish(timeout: .seconds(10)) == 0)
        let lines = subscriber.stdout.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.first?.hasPrefix("vigil/alerts/Hot/d1 {") == true)
        #expect(lines.last?.contains(#""status":"resolved""#) == true)
        #expect(await eventually(within: .seconds(5)) { sink.records().count == 2 })
    }

    @Test func aWebhookDownFor30sGetsEverythingAfterwardsInOrderEvenAcrossACrash() async throws {
        let port = TestEnvironment.freePort()
        let live = try await AlertGateway(alerts: """
            alerts:
              evaluation_interval: 200ms
              notifiers:
                - {name: hook, type: webhook, url: "http://127.0.0.1:\(port)/hook", retry_initial: 200ms, retry_max: 2s, timeout: 2s}
            \(Self.hotRule)
            """)
        defer { live.stop() }
        // Five notifications while nobody listens: d1 fires, d1 resolves, d2 fires, d2 resolves, d3 fires.
        for (device, value) in [("d1", 60.0), ("d1", 10), ("d2", 70), ("d2", 10), ("d3", 80)] {
            try await live.publish(device, "temp", value)
            try await Task.sleep(for: .milliseconds(300))
        }
        let start = ContinuousClock.now
        try await Task.sleep(for: .seconds(5))
        let metrics = try await live.gateway.get("/metrics").body
        #expect(metrics.contains(#"vigil_alert_outbox_depth{notifier="hook"} 5"#), "\(metrics.split(separator: "\n").filter { $0.contains("outbox") })")
        #expect(metrics.contains(#"vigil_alert_notifications_failed_total{notifier="hook",type="webhook"}"#))

        // The gateway crashes while the receiver is down; the outbox is on disk.
        try await live.restart(crash: true)
        try await Task.sleep(until: start + .seconds(30))

        let sink = try await WebhookSink(port: port)
        defer { sink.stop() }
        let received = try await sink.waitFor(5, timeout: .seconds(15)).map(body)
        let sequence = received.map { "\($0["alert"] as? String ?? "?") \($0["reason"] as? String ?? "?")" }
        #expect(sequence == [
            "Hot/temp{device=\"d1\"} firing", "Hot/temp{device=\"d1\"} resolved",
            "Hot/temp{device=\"d2\"} firing", "Hot/temp{device=\"d2\"} resolved", "Hot/temp{device=\"d3\"} firing",
        ])
        #expect(Set(received.compactMap { $0["id"] as? String }).count == 5)
        try await Task.sleep(for: .seconds(1))
        #expect(sink.records().count == 5, "nothing twice")
    }

    @Test func operatorsAckAndSilenceViewersMayNot() async throws {
        let sink = try await WebhookSink()
        defer { sink.stop() }
        let live = try await AlertGateway(alerts: """
            alerts:
              evaluation_interval: 200ms
              notifiers:
                - {name: hook, type: webhook, url: "\(sink.url)"}
              routes:
                - {notifiers: [hook], repeat_interval: 1s}
            \(Self.hotRule)
            """)
        defer { live.stop() }
        try await live.publish("d1", "temp", 60)
        try await sink.waitFor(2, timeout: .seconds(10)) // firing, then a repeat after 1 s
        let id = try await live.waitForAlert { $0["state"] as? String == "firing" }["id"] as! String

        let refused = try await live.api("/api/v1/alerts/ack", post: #"{"id":"\#(id)"}"#)
        #expect(refused.status == 403)
        let acked = try await live.api("/api/v1/alerts/ack", token: AlertGateway.operatorToken,
                                       post: #"{"id":"\#(id.replacingOccurrences(of: "\"", with: "\\\""))","comment":"on it"}"#)
        #expect(acked.status == 200, "\(acked.body)")
        #expect(acked.body.contains(#""by":"ops-bot""#))
        try await Task.sleep(for: .milliseconds(300))
        let afterAck = sink.records().count
        try await Task.sleep(for: .seconds(2))
        #expect(sink.records().count == afterAck, "acknowledged: no more repeats")

        let silence = try await live.api("/api/v1/silences", token: AlertGateway.operatorToken,
                                         post: #"{"matchers":"{device=\"d2\"}","duration":"1h","comment":"maintenance"}"#)
        #expect(silence.status == 200, "\(silence.body)")
        try await live.publish("d2", "temp", 90)
        let silenced = try await live.waitForAlert { ($0["labels"] as? [String: String])?["device"] == "d2" }
        #expect((silenced["silencedBy"] as? [String])?.count == 1)
        try await Task.sleep(for: .seconds(1))
        #expect(!sink.records().map(body).contains { ($0["labels"] as? [String: String])?["device"] == "d2" })

        let bad = try await live.api("/api/v1/silences", token: AlertGateway.operatorToken, post: #"{"matchers":"{device=","duration":"1h"}"#)
        #expect(bad.status == 400)
        let unknown = try await live.api("/api/v1/alerts/ack", token: AlertGateway.operatorToken, post: #"{"id":"nope"}"#)
        #expect(unknown.status == 404)
    }

    @Test func aRealAlertmanagerReceivesTheAlertAndItsResolution() async throws {
        let sink = try await WebhookSink()
        defer { sink.stop() }
        let amDirectory = try TemporaryDirectory("alertmanager")
        let amConfig = try amDirectory.write("alertmanager.yml", """
            route:
              receiver: sink
              group_by: [alertname, device]
              group_wait: 0s
              group_interval: 1s
              repeat_interval: 1h
            receivers:
              - name: sink
                webhook_configs:
                  - url: "http://127.0.0.1:\(sink.port)/am"
                    send_resolved: true
            """)
        let amPort = TestEnvironment.freePort()
        let alertmanager = try ManagedProcess(try TestEnvironment.tool("prometheus-alertmanager", package: "prometheus-alertmanager"), [
            "--config.file=\(amConfig)", "--storage.path=\(amDirectory.path("data"))",
            "--web.listen-address=127.0.0.1:\(amPort)", "--cluster.listen-address=",
        ], directory: amDirectory, name: "alertmanager")
        defer { alertmanager.stop() }
        await eventually(within: .seconds(15), every: .milliseconds(100)) { TestEnvironment.isListening(port: amPort) }

        let live = try await AlertGateway(alerts: """
            alerts:
              evaluation_interval: 200ms
              notifiers:
                - {name: am, type: alertmanager, url: "http://127.0.0.1:\(amPort)", resend_interval: 2s}
            \(Self.hotRule)
            """)
        defer { live.stop() }
        try await live.publish("d1", "temp", 60)
        let fired = try await sink.waitFor(1, timeout: .seconds(20))
        let group = body(fired[0])
        #expect(group["status"] as? String == "firing")
        let amAlert = (group["alerts"] as? [[String: Any]])?.first
        let labels = amAlert?["labels"] as? [String: String]
        #expect(labels?["alertname"] == "Hot" && labels?["device"] == "d1" && labels?["severity"] == "critical")
        #expect((amAlert?["annotations"] as? [String: String])?["summary"] == "d1 at 60")
        #expect((amAlert?["generatorURL"] as? String)?.hasSuffix("#alerts") == true)

        try await live.publish("d1", "temp", 20)
        let resolved = await eventually(within: .seconds(20), every: .milliseconds(200)) {
            sink.records().map(body).contains { $0["status"] as? String == "resolved" }
        }
        #expect(resolved, "Alertmanager sent the resolution: \(sink.records())")
    }

    @Test func rulesReloadOnFileChangeAndABadFileKeepsTheOldRules() async throws {
        let live = try await AlertGateway(alerts: """
            include: rules.yaml
            alerts:
              evaluation_interval: 200ms
            """, extraFiles: ["rules.yaml": """
            alerts:
              rules:
                - {name: First, selector: temp, threshold: "> 50"}
            """])
        defer { live.stop() }
        func ruleNames() async throws -> [String] {
            let object = try JSONSerialization.jsonObject(with: Data(try await live.api("/api/v1/rules").body.utf8)) as? [String: Any]
            return ((object?["data"] as? [[String: Any]]) ?? []).filter { $0["builtIn"] as? Bool == false }.compactMap { $0["name"] as? String }
        }
        #expect(try await ruleNames() == ["First"])

        _ = try live.configDirectory.write("rules.yaml", """
            alerts:
              rules:
                - {name: Second, selector: temp, threshold: "> 10"}
            """)
        try await live.gateway.process.waitForOutput(containing: "configuration reloaded")
        #expect(try await ruleNames() == ["Second"])
        try await live.publish("d1", "temp", 20)
        _ = try await live.waitForAlert { $0["rule"] as? String == "Second" }

        _ = try live.configDirectory.write("rules.yaml", """
            alerts:
              rules:
                - {name: Third, selector: temp, threshold: "above 10"}
            """)
        let rejected = try await live.gateway.process.waitForOutput(containing: "reload rejected")
        #expect(rejected.contains("rules.yaml:3:"), "\(rejected)")
        #expect(try await ruleNames() == ["Second"])

        // SIGHUP reloads too (here: the same bad file, rejected again).
        live.gateway.process.signal(SIGHUP)
        try await live.gateway.process.waitForOutput(containing: "trigger=SIGHUP")
        #expect(live.gateway.process.isRunning)
    }

    @Test func alertsTestReplaysTheSampleReadings() async throws {
        let root = TestEnvironment.packageRoot.path
        let result = try await vigil(["alerts", "test", "--config", root + "/samples/alerts.yaml",
                                      "--input", root + "/samples/alerts-readings.csv", "--after", "3m"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.contains { $0.contains("DoorLeftOpen") && $0.contains("pending -> firing") && $0.contains("notify: demo-webhook (firing)") })
        #expect(lines.contains { $0.contains("FridgeWarm ") && $0.contains("firing -> resolved") })
        #expect(lines.contains { $0.contains("SensorSilent") && $0.contains("inactive -> firing") })
        let bad = try await vigil(["alerts", "test", "--config", root + "/samples/alerts.yaml", "--input", root + "/samples/alerts.yaml"])
        #expect(bad.status != 0 && bad.stderr.contains("alerts.yaml:"))
    }

    @Test func aSelfAlertFiresWhenTheBrokerGoesAway() async throws {
        // The built-in VigilSourceDown waits a minute; a config rule of the same name replaces it.
        let live = try await AlertGateway(alerts: """
            alerts:
              evaluation_interval: 200ms
              rules:
                - {name: VigilSourceDown, selector: vigil_self_source_up, threshold: "== 0", for: 1s, severity: critical}
            """)
        defer { live.stop() }
        let rules = try await live.api("/api/v1/rules").body
        #expect(rules.components(separatedBy: "\"VigilSourceDown\"").count == 2, "replaced, not added: \(rules)")
        #expect(rules.contains("\"VigilStoreDiskFull\""))
        live.broker.stop()
        let alert = try await live.waitForAlert({ $0["rule"] as? String == "VigilSourceDown" && $0["state"] as? String == "firing" },
                                                timeout: .seconds(15))
        #expect((alert["labels"] as? [String: String])?["source"] == "mqtt/local")
    }

    @Test func checkConfigWarnsAboutASelectorThatMatchesNothingInTheStore() async throws {
        let directory = try TemporaryDirectory("check-rules")
        let csv = try directory.write("readings.csv", "series,timestamp_ms,value\ntemp{device=\"d1\"},1764061200000,20\n")
        let imported = try await vigil(["import", "--data-dir", directory.path("data"), "--max-age", "36500d", "--format", "csv", csv])
        #expect(imported.status == 0, "\(imported.stderr)")
        let config = try directory.write("vigil.yaml", """
            data_dir: \(directory.path("data"))
            alerts:
              rules:
                - {name: Known, selector: temp, threshold: "> 1"}
                - {name: Typo, selector: tmep, threshold: "> 1"}
            """)
        let checked = try await vigil(["check-config", "--quiet", config])
        #expect(checked.status == 0)
        #expect(checked.stderr.contains("vigil.yaml:5:") && checked.stderr.contains("alert rule 'Typo': selector"), "\(checked.stderr)")
        #expect(!checked.stderr.contains("'Known'"))
    }
}
