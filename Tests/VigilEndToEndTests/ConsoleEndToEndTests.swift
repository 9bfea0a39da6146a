import Foundation
import Testing
import VigilTestSupport

@Suite("Console served by the gateway", .serialized)
struct ConsoleEndToEndTests {
    @Test func pageScriptAndStyleAreServedWithAStrictPolicy() async throws {
        let live = try await LiveGateway()
        defer { live.stop() }
        let scratch = try TemporaryDirectory()
        let page = try await Curl.get(live.gateway.baseURL + "/", caCertificate: live.gateway.caCertificate,
                                      arguments: ["-D", scratch.path("headers")])
        let headers = try String(contentsOfFile: scratch.path("headers"), encoding: .utf8).lowercased()
        #expect(page.status == 200 && page.body.contains("<script src=\"/console/console.js\" defer>"))
        #expect(headers.contains("content-security-policy: default-src 'self'; frame-ancestors 'none'"))
        #expect(!page.body.contains("<script>") && !page.body.contains("style=\""), "no inline script or style (CSP)")
        let script = try await Curl.get(live.gateway.baseURL + "/console/console.js", caCertificate: live.gateway.caCertificate)
        #expect(script.status == 200 && script.body.contains("vigil.v1.json"))
        let style = try await Curl.get(live.gateway.baseURL + "/console/style.css", caCertificate: live.gateway.caCertificate)
        #expect(style.status == 200 && style.body.contains("prefers-color-scheme: dark"))
    }

    /// A script's 401 carries no Basic challenge, or the browser would stall the console's
    /// request behind its own password dialog; a plain client still gets the challenge.
    @Test func scriptRequestsGetNoBasicChallenge() async throws {
        let live = try await LiveGateway()
        defer { live.stop() }
        let scratch = try TemporaryDirectory()
        let fetched = try await Curl.get(live.gateway.baseURL + "/api/v1/session", caCertificate: live.gateway.caCertificate,
                                         headers: ["Sec-Fetch-Mode: cors"], arguments: ["-D", scratch.path("fetch")])
        #expect(fetched.status == 401)
        #expect(!(try String(contentsOfFile: scratch.path("fetch"), encoding: .utf8)).lowercased().contains("www-authenticate"))
        let plain = try await Curl.get(live.gateway.baseURL + "/api/v1/series?match[]=x", caCertificate: live.gateway.caCertificate,
                                       arguments: ["-D", scratch.path("plain")])
        #expect(plain.status == 401)
        #expect((try String(contentsOfFile: scratch.path("plain"), encoding: .utf8)).lowercased().contains("www-authenticate: basic"))
    }
}

extension ConsoleEndToEndTests {
    /// Headless Chromium through chromedriver and Selenium (Debian packages, installed by
    /// `scripts/install-deps.sh test`), against a real gateway and mosquitto. The gateway listens
    /// on a fixed port so that the browser can reconnect when the script asks for a restart
    /// (a file in `control`). Screenshots go to `.build/console-screenshots/`.
    @Test func theConsoleWorksInARealBrowser() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver") else {
            throw TestFailure("no /usr/bin/chromedriver: run `scripts/install-deps.sh test` (make test does)")
        }
        let live = try await AlertGateway(alerts: """
            alerts:
              evaluation_interval: 200ms
              rules:
                - name: BoilerTooHot
                  selector: temperature
                  threshold: "> 100"
                  severity: critical
                  annotations:
                    summary: "{{ $labels.device }} at {{ $value }}"
            """, listen: "127.0.0.1:\(TestEnvironment.freePort())", users: true)
        defer { live.stop() }
        let shots = TestEnvironment.packageRoot.appendingPathComponent(".build/console-screenshots").path
        let script = TestEnvironment.packageRoot.appendingPathComponent("scripts/console_browser_check.py").path
        let directory = try TemporaryDirectory("browser")
        let control = try TemporaryDirectory("browser-control")
        let browser = try ManagedProcess("/usr/bin/python3", [script, live.gateway.baseURL + "/", "operator", LiveGateway.password, shots,
                                                              try TestEnvironment.tool("mosquitto_pub", package: "mosquitto-clients"),
                                                              "\(live.broker.port)", control.url.path], directory: directory, name: "browser")
        defer { browser.stop() }
        let deadline = ContinuousClock.now + .seconds(180)
        var restarted = false
        while browser.isRunning, ContinuousClock.now < deadline {
            if !restarted, FileManager.default.fileExists(atPath: control.path("restart.request")) {
                try await live.restart()
                restarted = true
                _ = try control.write("restart.done", "")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        let status = try await browser.finish(timeout: .seconds(10))
        print(browser.stdout)
        #expect(status == 0, "\(browser.stdout)\n\(browser.stderr.suffix(3000))")
        #expect(browser.stdout.contains("ok   a published value appears within 1 s"))
        #expect(browser.stdout.contains("ok   no sequence gap across the restart"))
    }
}

extension ConsoleEndToEndTests {
    /// The fleet overview in headless Chromium: `vigil simulate` playing 600 devices on 6 sites
    /// (about 1 300 series) through mosquitto into the gateway; scripts/console_fleet_check.py
    /// navigates the tree, searches, filters, reloads and scrolls, and checks that the DOM holds
    /// only the cards in view. bench/console measures the targets at 10 000 series.
    @Test func theFleetOverviewFindsADeviceAmongHundreds() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver") else {
            throw TestFailure("no /usr/bin/chromedriver: run `scripts/install-deps.sh test` (make test does)")
        }
        let broker = try await MosquittoBroker()
        defer { broker.stop() }
        let configDirectory = try TemporaryDirectory("fleet-config")
        let config = try configDirectory.write("vigil.yaml", """
            data_dir: ${VIGIL_DATA_DIR}
            http: {listen: "127.0.0.1:0", console_tree: [site, device]}
            auth:
              users:
                - {name: operator, password_hash: "\(TestCredentials.passwordHash(LiveGateway.password))", role: operator}
            logging: {ingest_summary: 0}
            mqtt:
              brokers:
                - url: \(broker.url)
                  subscriptions:
                    - {topic: "sensors/+/+/+", pattern: "sensors/{site}/{device}/{metric}"}
            alerts:
              evaluation_interval: 200ms
              rules:
                - name: BoilerWarm
                  selector: 'temperature{device=~"boiler-.*"}'
                  threshold: "> 20"
                  severity: warning
            """)
        let gateway = try await RunningGateway(mqttURL: broker.url, config: config)
        defer { gateway.process.stop() }
        try await gateway.process.waitForOutput(containing: "connected to MQTT broker")
        // The console learns the tree's labels with the session.
        let login = try await Curl.get(gateway.baseURL + "/api/v1/login", caCertificate: gateway.caCertificate, arguments: [
            "-H", "Content-Type: application/json", "--data", #"{"username":"operator","password":"\#(LiveGateway.password)"}"#])
        #expect(login.status == 200 && login.body.contains(#""tree":["site","device"]"#), "\(login.body)")
        let scratch = try TemporaryDirectory("fleet-simulator")
        let simulator = try ManagedProcess(try TestEnvironment.vigilBinary(),
                                           ["simulate", "--mqtt", broker.url, "--devices", "600", "--sites", "6", "--rate", "1"],
                                           directory: scratch, name: "simulator")
        defer { simulator.stop() }
        // Every device has published once (it takes a tick): the series are all known.
        let deadline = ContinuousClock.now + .seconds(30)
        var series = 0.0
        while ContinuousClock.now < deadline {
            series = try await gateway.metric("vigil_store_series ") ?? 0
            if series >= 1200 { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(series >= 1200, "the simulator's series did not arrive: \(series)")
        let shots = TestEnvironment.packageRoot.appendingPathComponent(".build/console-screenshots").path
        let script = TestEnvironment.packageRoot.appendingPathComponent("scripts/console_fleet_check.py").path
        let directory = try TemporaryDirectory("fleet-browser")
        let browser = try ManagedProcess("/usr/bin/python3", [script, gateway.baseURL + "/", "operator", LiveGateway.password, shots,
                                                              "6", "1200", try TestEnvironment.tool("mosquitto_pub", package: "mosquitto-clients"),
                                                              "\(broker.port)"], directory: directory, name: "fleet-browser")
        defer { browser.stop() }
        let status = try await browser.finish(timeout: .seconds(180))
        print(browser.stdout)
        #expect(status == 0, "\(browser.stdout)\n\(browser.stderr.suffix(3000))")
        #expect(browser.stdout.contains("ok   a device opens its page"))
        #expect(browser.stdout.contains("ok   only the cards in view are in the DOM"))
    }
}
