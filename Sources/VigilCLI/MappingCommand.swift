import ArgumentParser
import Foundation
import VigilCore
import VigilIngest
import VigilServer

struct MappingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mapping",
        abstract: "Try the MQTT topic and payload mapping of a config.",
        subcommands: [MappingExplainCommand.self])
}

struct MappingExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Print the readings one MQTT message would produce, or why it would be rejected.",
        discussion: """
            Nothing connects anywhere: the config's subscriptions and its normalize section are applied
            to the topic and payload given here. Exit status 0 when the message gives at least one
            reading and nothing is rejected, 1 otherwise.

            Examples:
              vigil mapping explain --config /etc/vigil/vigil.yaml sensors/north/boiler-1/temperature 71.3
              vigil mapping explain --config samples/mqtt.yaml influx/lab 'weather,site=lab temp=19.5'
              vigil mapping explain --config samples/mqtt.yaml senml/x - < payload.json
            """)

    @Option(name: .shortAndLong, help: ArgumentHelp("The config file.", valueName: "file"))
    var config: String

    @Option(help: ArgumentHelp("Only this broker's subscriptions (default: the first broker with a matching one).", valueName: "name"))
    var broker: String?

    @Argument(help: "The MQTT topic.")
    var topic: String

    @Argument(help: "The payload, or - to read it from standard input.")
    var payload: String

    func run() throws {
        let loaded: VigilConfiguration
        do { loaded = try VigilConfiguration.load(path: config) } catch { Terminal.fail("\(error)") }
        let bytes: [UInt8] = payload == "-" ? Array(FileHandle.standardInput.readDataToEndOfFile()) : Array(payload.utf8)
        let brokers = loaded.mqtt.brokers.filter { broker == nil || $0.name == broker }
        guard !brokers.isEmpty else {
            Terminal.fail(broker.map { "vigil mapping explain: no broker named '\($0)' in \(config)" }
                          ?? "vigil mapping explain: \(config) has no mqtt.brokers")
        }
        let levels = topic.split(separator: "/", omittingEmptySubsequences: false)
        let chosen = brokers.first { $0.subscriptions.contains { $0.filter.matches(levels: levels) } } ?? brokers[0]
        let mapper = MessageMapper(subscriptions: chosen.subscriptions, normalizer: Normalizer(config: loaded.normalize))
        let now = WallClock.nowMs()
        let outcome = mapper.map(topic: topic, payload: bytes, receivedMs: now)
        if let index = outcome.subscription {
            let subscription = chosen.subscriptions[index]
            print("broker \(chosen.name), subscription \(index + 1): \(subscription.filter) (format \(subscription.format.name))")
        } else {
            print("broker \(chosen.name): no subscription matches '\(topic)'")
        }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for reading in outcome.readings {
            let time = formatter.string(from: Date(timeIntervalSince1970: Double(reading.timestampMs) / 1000))
            let source = reading.timestampMs == now ? "receive time" : "device time"
            print("  reading  \(reading.series) = \(reading.value)\(reading.unit.map { " \($0)" } ?? "")  at \(time) (\(source))")
        }
        for reject in outcome.rejects {
            print("  rejected \(reject.rawValue): \(reject.explanation)")
        }
        if outcome.readings.isEmpty || !outcome.rejects.isEmpty { throw ExitCode(1) }
    }
}
