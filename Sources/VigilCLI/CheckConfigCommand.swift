import ArgumentParser
import FoundationEssentials
import VigilAlerts
import VigilForward
import VigilConfig
import VigilIngest
import VigilServer
import VigilStore

struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate config files and summarize what they set up.",
        discussion: """
            Every error names file:line:column. Exit status 0 when all files are valid, 1 otherwise.
            Environment variables are substituted as `vigil run` would.

            Examples:
              vigil check-config /etc/vigil/vigil.yaml
              vigil check-config samples/*.yaml
            """)

    @Argument(help: ArgumentHelp("Config files to check.", valueName: "file"))
    var files: [String]

    @Flag(name: .shortAndLong, help: "Print only errors and warnings.")
    var quiet = false

    func run() throws {
        var failed = false
        for file in files {
            do {
                let config = try VigilConfiguration.load(path: file)
                for warning in config.warnings + Self.unmatchedSelectors(config) { Terminal.printError("\(warning)") }
                if !quiet { print("\(file): ok\n" + ConfigSummary.describe(config)) }
            } catch {
                Terminal.printError("\(error)")
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }

    /// Rules whose selector matches no series the store knows: a warning, since the series may
    /// simply not have arrived yet. Only when the config's store exists and can be read.
    static func unmatchedSelectors(_ config: VigilConfiguration) -> [ConfigDiagnostic] {
        guard !config.alerts.rules.isEmpty, FileManager.default.fileExists(atPath: config.store.path),
              let store = try? MetricStore(options: config.store.options, readOnly: true) else { return [] }
        return config.alerts.rules.filter { store.series($0.selector).isEmpty }.map { rule in
            ConfigDiagnostic.warning("alert rule '\(rule.name)': selector \(rule.selector) matches no series in the store at \(config.store.path)",
                                     at: nil).prefixed(rule.origin)
        }
    }
}

extension ConfigDiagnostic {
    /// The warning with a `file:line:column: ` place in front when known.
    func prefixed(_ origin: String?) -> ConfigDiagnostic {
        guard let origin else { return self }
        return .warning("\(origin): \(message)", at: nil)
    }
}

/// The short human summary `check-config` prints for a valid file.
enum ConfigSummary {
    static func describe(_ config: VigilConfiguration) -> String {
        let tls: String = switch config.http.tls {
        case .selfSigned: "https, self-signed certificate"
        case .files(let certificate, _): "https, certificate \(certificate)"
        case .off: "plain http (TLS off)"
        }
        var lines = [
            "  gateway:   \(config.gatewayName)",
            "  data_dir:  \(config.dataDir)",
            "  listener:  \(config.http.listenDescription) (\(tls))",
            "  origins:   \(config.http.allowedOrigins.isEmpty ? "own origin only" : config.http.allowedOrigins.joined(separator: ", "))",
            "  users:     \(config.auth.users.isEmpty ? "none (console login disabled)" : config.auth.users.map(\.description).joined(separator: ", "))",
            "  tokens:    \(config.auth.tokens.isEmpty ? "none" : config.auth.tokens.map(\.description).joined(separator: ", "))",
        ]
        let store = config.store.options
        lines.append("  store:     \(config.store.path) (flush every \(ConfigValues.format(config.store.flushInterval)), "
                     + "raw kept \(ConfigValues.format(store.retention))"
                     + (store.maxBytes.map { ", at most \($0) bytes" } ?? "") + ")")
        let subscriptions = config.mqtt.brokers.reduce(0) { $0 + $1.subscriptions.count }
        lines.append("  sources:   \(config.mqtt.brokers.count) MQTT broker(s), \(subscriptions) subscription(s)")
        for broker in config.mqtt.brokers {
            lines.append("    mqtt/\(broker.name): \(broker.host):\(broker.port) " +
                         broker.subscriptions.map { "\($0.filter) (qos \($0.qos))" }.joined(separator: ", "))
        }
        lines.append("  serial:    \(config.serial.ports.count) port(s)")
        for port in config.serial.ports {
            lines.append("    serial/\(port.name): \(port.device) \(port.settings.summary), \(port.format.name)"
                         + (port.poll.map { ", polled every \(ConfigValues.format($0.interval))" } ?? ""))
        }
        lines.append("  modbus:    \(config.modbus.buses.count) bus(es)")
        for bus in config.modbus.buses {
            let line = switch bus.transport {
            case .rtu(let device, let settings): "\(device) \(settings.summary)"
            case .tcp(let host, let port): "tcp \(host):\(port)"
            }
            lines.append("    modbus/\(bus.name): \(line), " + bus.devices.map {
                "\($0.name) (slave \($0.slave), \($0.registers.count) values in \($0.blocks.count) request(s) every \(ConfigValues.format($0.pollInterval)))"
            }.joined(separator: ", "))
        }
        lines.append("  forward:   \(config.forward.remoteWrite.count) remote-write endpoint(s)")
        for endpoint in config.forward.remoteWrite {
            lines.append("    forward/\(endpoint.name): \(endpoint.url.split(separator: "?").first ?? ""), \(endpoint.match.map(\.description).joined(separator: " "))"
                         + ", batches of \(endpoint.batchSize), at most \(endpoint.maxSamplesPerSecond) samples/s")
        }
        let alerts = config.alerts
        lines.append("  alerts:    \(alerts.rules.count) rule(s)\(alerts.selfAlerts ? " + \(SelfAlertRules.all.count) built-in self-alerts" : ""), "
                     + "\(alerts.notifiers.count) notifier(s), evaluated every \(ConfigValues.format(alerts.evaluationInterval))")
        for rule in alerts.rules {
            lines.append("    \(rule.name): \(rule.selector) \(rule.condition.summary)"
                         + (rule.pendingFor > .zero ? " for \(ConfigValues.format(rule.pendingFor))" : "") + " [\(rule.severity)]")
        }
        for notifier in alerts.notifiers { lines.append("    notifier \(notifier.name): \(notifier.typeName)") }
        return lines.joined(separator: "\n")
    }
}
