import ArgumentParser
import FoundationEssentials
import VigilAlerts
import VigilConfig
import VigilCore
import VigilServer
import VigilStore

struct AlertsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts",
        abstract: "Work with alert rules.",
        subcommands: [AlertsTestCommand.self])
}

/// Like `promtool test rules`: replay recorded readings through a config's rules and print the
/// alert timeline, to try a rule before it runs on a gateway.
struct AlertsTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Replay readings through the alert rules and print the alert timeline.",
        discussion: """
            The input is the CSV that `vigil export` writes (series,timestamp_ms,value). Readings are
            replayed in time order with their own timestamps as the clock; between readings the rules
            are ticked every alerts.evaluation_interval, as on a gateway. Built-in self-alerts are left out.

            Examples:
              vigil alerts test --config samples/alerts.yaml --input samples/alerts-readings.csv
              vigil export --data-dir /var/lib/vigil 'door_open' --start=-1d > door.csv
              vigil alerts test --config /etc/vigil/vigil.yaml --input door.csv --rule DoorLeftOpen
            """)

    @Option(name: .shortAndLong, help: ArgumentHelp("The config holding the rules.", valueName: "file"))
    var config: String

    @Option(name: .shortAndLong, help: ArgumentHelp("Readings as CSV (series,timestamp_ms,value); - for stdin.", valueName: "file"))
    var input: String

    @Option(help: ArgumentHelp("Only this rule (repeatable).", valueName: "name"))
    var rule: [String] = []

    @Option(help: ArgumentHelp("Keep the clock running this long after the last reading (stale rules, for, keep_firing_for).",
                               valueName: "duration"))
    var after: String = "0s"

    @Flag(help: "Also print pending transitions that went back to inactive.")
    var verbose = false

    func run() throws {
        let loaded: VigilConfiguration
        do { loaded = try VigilConfiguration.load(path: config) } catch { throw CLIError("\(error)") }
        var alerts = loaded.alerts
        if !rule.isEmpty {
            for name in rule where !alerts.rules.contains(where: { $0.name == name }) {
                throw CLIError("no rule named '\(name)' in \(config) (rules: \(alerts.rules.map(\.name).joined(separator: ", ")))")
            }
            alerts.rules = alerts.rules.filter { rule.contains($0.name) }
        }
        guard !alerts.rules.isEmpty else { throw CLIError("\(config) has no alert rules") }
        guard let tail = ConfigValues.parseDuration(after) else { throw CLIError("--after: expected a duration such as 10m") }

        let readings = try readCSV()
        var replay = AlertReplay(config: alerts)
        var events = replay.feed(readings)
        events += replay.finish(after: tail)
        print("\(readings.count) readings, \(alerts.rules.count) rule(s): \(alerts.rules.map(\.name).joined(separator: ", "))")
        var shown = 0
        for event in events where verbose || !(event.from == .pending && event.to == .inactive) {
            shown += 1
            print(Self.line(event))
        }
        if shown == 0 { print("no alert changed state") }
    }

    func readCSV() throws -> [Reading] {
        let text: String
        do {
            if input == "-" {
                text = String(decoding: Terminal.readAll(), as: UTF8.self)
            } else {
                text = try String(contentsOfFile: input, encoding: .utf8)
            }
        } catch {
            throw CLIError("cannot read \(input): \(error)")
        }
        var reader = SampleCSV.Reader()
        var readings: [Reading] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            do {
                if let reading = try reader.parse(line) { readings.append(reading) }
            } catch {
                throw CLIError("\(input):\(number + 1): \(error)")
            }
        }
        // Stable: readings with equal timestamps keep their file order.
        return readings.enumerated().sorted { ($0.element.timestampMs, $0.offset) < ($1.element.timestampMs, $1.offset) }.map(\.element)
    }

    static func line(_ event: AlertReplay.Event) -> String {
        let value = event.value.map { AnnotationTemplate.formatValue($0) + (event.unit.map { " \($0)" } ?? "") } ?? "-"
        let change = event.from == event.to ? "\(event.to.rawValue) (still)" : "\(event.from.rawValue) -> \(event.to.rawValue)"
        var text = "\(RFC3339.format(event.timeMs))  \(event.rule)  \(event.series)  \(change)  value=\(value)"
        if let summary = event.annotations["summary"] { text += "  \"\(summary)\"" }
        if !event.notifications.isEmpty { text += "  notify: \(event.notifications.joined(separator: ", "))" }
        return text
    }
}
