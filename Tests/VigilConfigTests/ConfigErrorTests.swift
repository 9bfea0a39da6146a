import Foundation
import Testing
import VigilConfig
import VigilServer

/// Writes `yaml` as config.yaml in a fresh directory and loads it; errors come back with the
/// directory replaced by `DIR` so the expected messages can be written out exactly.
func loadError(_ yaml: String, files: [String: String] = [:], environment: [String: String] = [:]) -> String? {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-config-\(UUID().uuidString.prefix(8))")
    try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    for (name, text) in files { try? text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8) }
    let path = directory.appendingPathComponent("config.yaml").path
    try? yaml.write(toFile: path, atomically: true, encoding: .utf8)
    do {
        _ = try VigilConfiguration.load(path: path, environment: environment)
        return nil
    } catch {
        return "\(error)".replacingOccurrences(of: directory.path, with: "DIR")
    }
}

func load(_ yaml: String, environment: [String: String] = [:]) throws -> VigilConfiguration {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-config-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("config.yaml").path
    try yaml.write(toFile: path, atomically: true, encoding: .utf8)
    return try VigilConfiguration.load(path: path, environment: environment)
}

@Suite("Config errors name file:line:column and say what to do")
struct ConfigErrorTests {
    @Test func misspelledKeySuggestsTheRightOne() {
        let yaml = """
            http:
              listne: 127.0.0.1:8443
            """
        #expect(loadError(yaml) == "DIR/config.yaml:2:3: unknown key 'listne' in http (did you mean 'listen'?)")
    }

    @Test func misspelledTopLevelSection() {
        #expect(loadError("loging:\n  level: info\n")
                == "DIR/config.yaml:1:1: unknown key 'loging' at the top level (did you mean 'logging'?)")
    }

    @Test func misspelledKeyDeepInAList() {
        let yaml = """
            mqtt:
              brokers:
                - url: mqtt://127.0.0.1:1883
                  subscriptions:
                    - topic: a/+
                      metric: a
                      qos_level: 1
            """
        #expect(loadError(yaml)
                == "DIR/config.yaml:7:11: unknown key 'qos_level' in mqtt.brokers[0].subscriptions[0] (did you mean 'qos'?)")
    }

    @Test func wrongTypeSaysWhatWasExpected() {
        #expect(loadError("mqtt:\n  brokers:\n    - keepalive: often\n")
                == "DIR/config.yaml:3:18: mqtt.brokers[0].keepalive: expected a whole number from 5 to 3600, found 'often'")
        #expect(loadError("http: [1, 2]\n")
                == "DIR/config.yaml:1:7: http: expected a mapping of keys, found a list")
        #expect(loadError("gateway:\n  shutdown_timeout: 10\n")
                == "DIR/config.yaml:2:21: gateway.shutdown_timeout: expected a duration such as 500ms, 15s, 5m, 1h or 30d, found '10'")
    }

    @Test func badChoiceSuggests() {
        #expect(loadError("logging:\n  level: warn\n")
                == "DIR/config.yaml:2:10: logging.level: expected one of trace, debug, info, notice, warning, error, critical, found 'warn' (did you mean 'warning'?)")
    }

    @Test func invalidYAMLPointsAtTheProblem() {
        let error = loadError("http:\n  listen: [unclosed\n")
        #expect(error?.hasPrefix("DIR/config.yaml:3:1: invalid YAML:") == true, "\(error ?? "")")
    }

    @Test func duplicateKey() {
        #expect(loadError("gateway:\n  name: a\n  name: b\n")
                == "DIR/config.yaml:3:3: duplicate key 'name' (first set at line 2)")
    }

    @Test func missingEnvironmentVariable() {
        #expect(loadError("http:\n  listen: ${VIGIL_TEST_UNSET}\n")
                == "DIR/config.yaml:2:11: environment variable VIGIL_TEST_UNSET is not set (set it, or give a default: ${VIGIL_TEST_UNSET:-value})")
    }

    @Test func environmentVariablesAndDefaults() throws {
        let yaml = """
            gateway:
              name: ${NAME}
            data_dir: ${DIR:-/tmp/vigil-default}/x
            http:
              listen: "${HOST:-127.0.0.1}:${PORT}"
            """
        let config = try load(yaml, environment: ["NAME": "edge-7", "PORT": "9443", "HOST": ""])
        #expect(config.gatewayName == "edge-7")
        #expect(config.dataDir == "/tmp/vigil-default/x")
        #expect(config.http.host == "127.0.0.1")
        #expect(config.http.port == 9443)
    }

    @Test func consoleTreeLabels() throws {
        #expect(try load("gateway:\n  name: x\n").http.consoleTree == ["site", "device"])
        #expect(try load("http:\n  console_tree: [line, cell, machine]\n").http.consoleTree == ["line", "cell", "machine"])
        for bad in ["[]", "[site, site]", "[a, b, c, d, e]", "[\"bad label\"]", "[__name__]"] {
            #expect(loadError("http:\n  console_tree: \(bad)\n")
                    == "DIR/config.yaml:2:3: http.console_tree: one to four distinct label names (such as [site, device])", "\(bad)")
        }
    }

    @Test func dollarDollarIsALiteralDollar() throws {
        let config = try load("gateway:\n  name: cost$$5\n")
        #expect(config.gatewayName == "cost$5")
    }

    @Test func storeSectionDefaultsAndErrors() throws {
        let defaults = try load("data_dir: /srv/vigil\n")
        #expect(defaults.store.path == "/srv/vigil/metrics.db")
        #expect(defaults.store.flushInterval == .seconds(1))
        #expect(defaults.store.options.outOfOrderWindow == .seconds(300))
        #expect(defaults.store.options.retention == .seconds(30 * 86_400))
        #expect(defaults.store.options.maxBytes == nil)
        let custom = try load("store:\n  path: /ssd/m.db\n  max_bytes: 2GiB\n  retention: 7d\n  rollups:\n    minute_retention: 90d\n")
        #expect(custom.store.path == "/ssd/m.db" && custom.store.options.maxBytes == 2 << 30)
        #expect(custom.store.options.minuteRollupRetention == .seconds(90 * 86_400))
        #expect(custom.store.options.hourRollupRetention == .seconds(365 * 86_400))
        #expect(loadError("store:\n  retension: 7d\n") == "DIR/config.yaml:2:3: unknown key 'retension' in store (did you mean 'retention'?)")
        #expect(loadError("store:\n  flush_interval: 5m\n") == "DIR/config.yaml:2:3: store.flush_interval: must be between 10ms and 1m")
        #expect(loadError("store:\n  max_bytes: lots\n")?.hasPrefix("DIR/config.yaml:2:14: ") == true)
    }

    @Test func unreadableCertificateFile() {
        #expect(loadError("http:\n  tls:\n    cert: /nonexistent/cert.pem\n    key: /nonexistent/key.pem\n")
                == "DIR/config.yaml:3:5: http.tls.cert: cannot read /nonexistent/cert.pem: no such file")
    }

    @Test func badPasswordHashIsRefused() {
        let yaml = "auth:\n  users:\n    - name: admin\n      password_hash: hunter2\n      role: admin\n"
        #expect(loadError(yaml)
                == "DIR/config.yaml:4:7: auth.users[0].password_hash: not a bcrypt hash (expected $2b$NN$… as printed by `vigil passwd`)")
    }

    @Test func emptyPasswordHashIsAWarningNotADefault() throws {
        let config = try load("auth:\n  users:\n    - name: admin\n      password_hash: ${H:-}\n")
        #expect(config.warnings.map(\.description).contains { $0.contains("user 'admin' has no password_hash") })
    }

    @Test func invalidTopicFilterAndPattern() {
        let base = "mqtt:\n  brokers:\n    - subscriptions:\n        - topic: "
        #expect(loadError(base + "a/#/b\n          metric: m\n")
                == "DIR/config.yaml:4:11: mqtt.brokers[0].subscriptions[0].topic: invalid topic filter 'a/#/b': '#' must be a whole level and the last one")
        #expect(loadError(base + "a/+\n          pattern: a/{bad-name}\n")
                == "DIR/config.yaml:5:20: mqtt.brokers[0].subscriptions[0].pattern: '{bad-name}' is not a valid capture: use a label name like {device}")
        #expect(loadError(base + "a/+\n")
                == "DIR/config.yaml:4:11: mqtt.brokers[0].subscriptions[0]: say which metric the messages are: set 'metric', or capture it with {metric} in 'pattern'")
    }

    @Test func brokerURLErrors() {
        #expect(loadError("mqtt:\n  brokers:\n    - url: mqtt://user:pw@host\n")
                == "DIR/config.yaml:3:7: mqtt.brokers[0].url: put credentials in 'username' and 'password', not in the URL")
        #expect(loadError("mqtt:\n  brokers:\n    - url: http://host\n")
                == "DIR/config.yaml:3:7: mqtt.brokers[0].url: unknown scheme 'http' (use mqtt:// or mqtts://)")
    }

    @Test func mqttTLSFormatsAndNormalize() throws {
        let tls = try load("mqtt:\n  brokers:\n    - url: mqtts://broker.example\n      protocol: \"5\"\n      session_expiry: 2h\n")
        #expect(tls.mqtt.brokers[0].port == 8883 && tls.mqtt.brokers[0].tls != nil)
        #expect(tls.mqtt.brokers[0].protocolVersion == .v5 && tls.mqtt.brokers[0].sessionExpiry == .seconds(7200))
        #expect(loadError("mqtt:\n  brokers:\n    - url: mqtt://h\n      tls: {insecure: true}\n")
                == "DIR/config.yaml:4:7: mqtt.brokers[0].tls: TLS settings need an mqtts:// url")
        #expect(loadError("mqtt:\n  brokers:\n    - url: mqtts://h\n      tls: {ca_file: /nonexistent.pem}\n")
                == "DIR/config.yaml:4:13: mqtt.brokers[0].tls.ca_file: cannot read /nonexistent.pem")
        let sub = "mqtt:\n  brokers:\n    - subscriptions:\n        - topic: a/+\n"
        #expect(loadError(sub + "          json: {items: x}\n")
                == "DIR/config.yaml:5:11: mqtt.brokers[0].subscriptions[0].json: options for the 'json' format, but format is 'value'")
        #expect(try load(sub + "          format: json\n").mqtt.brokers[0].subscriptions[0].metric == nil)  // the payload names it
        #expect(loadError(sub + "          format: json\n          json:\n            fields:\n              - {path: a, metric: 1x}\n")?
                    .contains("'1x' is not a valid metric name") == true)
        #expect(loadError(sub + "          format: xml\n")?.contains("expected one of value, json, influx, senml") == true)
        #expect(loadError("normalize:\n  rules:\n    - {unit: bar}\n")?
                    .contains("a rule needs 'metric' (a name) or 'match' (a regular expression)") == true)
        #expect(loadError("normalize:\n  rules:\n    - {match: \"(\"}\n")?.contains("invalid regular expression") == true)
        #expect(loadError("normalize:\n  rules:\n    - {metric: t, min: 5, max: 1}\n")?.contains("min (5.0) is above max (1.0)") == true)
        #expect(loadError("normalize:\n  on_clock_skew: ignore\n")?.hasPrefix("DIR/config.yaml:2:18: normalize.on_clock_skew") == true)
    }

    @Test func badListenAddress() {
        #expect(loadError("http:\n  listen: localhost\n")
                == "DIR/config.yaml:2:11: http.listen: expected HOST:PORT such as 0.0.0.0:8443 or [::1]:8443, found 'localhost'")
    }

    @Test func badOrigin() {
        #expect(loadError("http:\n  allowed_origins: [https://a.example/path]\n")
                == "DIR/config.yaml:2:3: http.allowed_origins: 'https://a.example/path' is not an origin (scheme://host[:port], no path)")
    }

    @Test func sparkplugMistakes() {
        func sparkplug(_ subscriptions: String) -> String? {
            loadError("mqtt:\n  brokers:\n    - url: mqtt://127.0.0.1:1883\n      subscriptions:\n" + subscriptions)
        }
        #expect(sparkplug("        - {topic: spBv1.0/#, format: sparkplug, pattern: \"spBv1.0/{group}/{rest...}\"}\n")?
                    .hasSuffix("mqtt.brokers[0].subscriptions[0].pattern: Sparkplug topics name group, node and device themselves; remove 'pattern'") == true)
        #expect(sparkplug("        - {topic: spBv1.0/#, format: sparkplug, sparkplug: {host_id: a/b}}\n")
                == "DIR/config.yaml:5:61: mqtt.brokers[0].subscriptions[0].sparkplug.host_id: 'a/b' cannot be a topic level (no '/', '+' or '#')")
        #expect(sparkplug("        - {topic: spBv1.0/a/#, format: sparkplug, sparkplug: {host_id: x}}\n"
                          + "        - {topic: spBv1.0/b/#, format: sparkplug, sparkplug: {host_id: y}}\n")?
                    .contains("one connection is one host application") == true)
        #expect(sparkplug("        - {topic: spBv1.0/#, format: sparkplug, sparkplug: {rebirth_intervall: 5s}}\n")?
                    .contains("did you mean 'rebirth_interval'") == true)
        #expect(sparkplug("        - {topic: spBv1.0/#, format: json, sparkplug: {rebirth: false}}\n")?
                    .contains("options for the 'sparkplug' format, but format is 'json'") == true)
    }

    @Test func missingConfigFile() {
        #expect(throws: ConfigError.self) { try VigilConfiguration.load(path: "/nonexistent/vigil.yaml") }
        let error = try? #require(throws: ConfigError.self) { try VigilConfiguration.load(path: "/nonexistent/vigil.yaml") }
        #expect(error?.description == "cannot read config file /nonexistent/vigil.yaml: no such file")
    }
}

@Suite("Includes")
struct IncludeTests {
    @Test func includedFilesMergeMappingsAndConcatenateLists() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-inc-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("conf.d"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try """
            include: conf.d/*.yaml
            gateway:
              name: main
            mqtt:
              brokers:
                - name: a
                  subscriptions: [{topic: a/+, metric: a}]
            """.write(to: directory.appendingPathComponent("vigil.yaml"), atomically: true, encoding: .utf8)
        try """
            mqtt:
              brokers:
                - name: b
                  subscriptions: [{topic: b/+, metric: b}]
            logging:
              level: debug
            """.write(to: directory.appendingPathComponent("conf.d/extra.yaml"), atomically: true, encoding: .utf8)
        let config = try VigilConfiguration.load(path: directory.appendingPathComponent("vigil.yaml").path, environment: [:])
        #expect(config.mqtt.brokers.map(\.name) == ["a", "b"])
        #expect(config.logging.level == .debug)
        #expect(config.files.count == 2)
    }

    @Test func theSameValueInTwoFilesIsAConflict() {
        let error = loadError("include: other.yaml\ngateway:\n  name: a\n", files: ["other.yaml": "gateway:\n  name: b\n"])
        #expect(error == "DIR/other.yaml:2:9: 'gateway.name' is set both here and at DIR/config.yaml:3:9")
    }

    @Test func missingIncludeAndCycles() {
        #expect(loadError("include: nothere.yaml\n") == "DIR/config.yaml:1:10: included file DIR/nothere.yaml does not exist")
        let cycle = loadError("include: b.yaml\n", files: ["b.yaml": "include: config.yaml\n"])
        #expect(cycle?.hasPrefix("DIR/b.yaml:1:10: include cycle:") == true, "\(cycle ?? "")")
    }
}

@Suite("Config value notations")
struct ConfigValueTests {
    @Test(arguments: [("500ms", 500), ("15s", 15_000), ("5m", 300_000), ("1h30m", 5_400_000), ("30d", 2_592_000_000),
                      ("1.5s", 1500), ("0", 0)])
    func durations(text: String, milliseconds: Int64) {
        #expect(ConfigValues.parseDuration(text).map { $0.components.seconds * 1000 + $0.components.attoseconds / 1_000_000_000_000_000 } == milliseconds)
    }

    @Test(arguments: ["10", "5 minutes", "m", "-1s", ""])
    func invalidDurations(text: String) {
        #expect(ConfigValues.parseDuration(text) == nil)
    }

    @Test(arguments: [("1024", 1024), ("64KiB", 65_536), ("512MiB", 536_870_912), ("10GB", 10_000_000_000), ("1 GiB", 1_073_741_824)])
    func byteSizes(text: String, bytes: Int64) {
        #expect(ConfigValues.parseByteSize(text) == bytes)
    }

    @Test func hostPorts() {
        #expect(ConfigValues.parseHostPort("127.0.0.1:8443")! == ("127.0.0.1", 8443))
        #expect(ConfigValues.parseHostPort("[::1]:0")! == ("::1", 0))
        #expect(ConfigValues.parseHostPort(":9000")! == ("0.0.0.0", 9000))
        #expect(ConfigValues.parseHostPort("::1:80") == nil)
        #expect(ConfigValues.parseHostPort("host:99999") == nil)
    }
}
