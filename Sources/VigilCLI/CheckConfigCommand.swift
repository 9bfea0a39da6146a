import ArgumentParser
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
                for warning in config.warnings { Terminal.printError("\(warning)") }
                if !quiet { print("\(file): ok\n" + ConfigSummary.describe(config)) }
            } catch {
                Terminal.printError("\(error)")
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
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
        lines.append("  rules:     0 alert rules")
        return lines.joined(separator: "\n")
    }
}
