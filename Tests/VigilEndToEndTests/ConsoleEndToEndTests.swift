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
