import ArgumentParser
import FoundationEssentials
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

            Sparkplug B payloads (format: sparkplug) are binary: give them as hex, as @FILE, or as - on
            standard input. The message is read as if its edge node and device were born, so metrics
            sent by name are explained; a metric sent by alias alone needs its birth, which a single
            payload does not have.
              vigil mapping explain --config samples/sparkplug.yaml spBv1.0/plant/NDATA/edge-1 \
                088084cee2a234121f0a0b54656d7065726174757265188084cee2a234200a6900000000008035401803
            """)

    @Option(name: .shortAndLong, help: ArgumentHelp("The config file.", valueName: "file"))
    var config: String

    @Option(help: ArgumentHelp("Only this broker's subscriptions (default: the first broker with a matching one).", valueName: "name"))
    var broker: String?

    @Argument(help: "The MQTT topic.")
    var topic: String

    @Argument(help: "The payload, or - to read it from standard input (Sparkplug: hex, @FILE or -).")
    var payload: String

    func run() throws {
        let loaded: VigilConfiguration
        do { loaded = try VigilConfiguration.load(path: config) } catch { Terminal.fail("\(error)") }
        let brokers = loaded.mqtt.brokers.filter { broker == nil || $0.name == broker }
        guard !brokers.isEmpty else {
            Terminal.fail(broker.map { "vigil mapping explain: no broker named '\($0)' in \(config)" }
                          ?? "vigil mapping explain: \(config) has no mqtt.brokers")
        }
        let levels = topic.split(separator: "/", omittingEmptySubsequences: false)
        let chosen = brokers.first { $0.subscriptions.contains { $0.filter.matches(levels: levels) } } ?? brokers[0]
        let binary = chosen.subscriptions.first { $0.filter.matches(levels: levels) }.map { $0.format.name == "sparkplug" } ?? false
        let bytes = try payloadBytes(binary: binary)
        let mapper = MessageMapper(subscriptions: chosen.subscriptions, normalizer: Normalizer(config: loaded.normalize), explain: true)
        let now = WallClock.nowMs()
        let outcome = mapper.map(topic: topic, payload: bytes, receivedMs: now)
        if let index = outcome.subscription {
            let subscription = chosen.subscriptions[index]
            print("broker \(chosen.name), subscription \(index + 1): \(subscription.filter) (format \(subscription.format.name))")
        } else {
            print("broker \(chosen.name): no subscription matches '\(topic)'")
        }
        for reading in outcome.readings {
            let time = RFC3339.format(reading.timestampMs)
            let source = reading.timestampMs == now ? "receive time" : "device time"
            print("  reading  \(reading.series) = \(reading.value)\(reading.unit.map { " \($0)" } ?? "")  at \(time) (\(source))")
        }
        for reject in outcome.rejects {
            print("  rejected \(reject.rawValue): \(reject.explanation)")
        }
        for change in outcome.changes {
            print("  sparkplug \(change.name) \(change.online ? "online" : "offline") (\(change.detail))")
        }
        if outcome.readings.isEmpty || !outcome.rejects.isEmpty { throw ExitCode(1) }
    }

    /// The payload as given: text, or for binary formats hex, `@FILE` or standard input.
    func payloadBytes(binary: Bool) throws -> [UInt8] {
        if payload == "-" { return Terminal.readAll() }
        guard binary else { return Array(payload.utf8) }
        if payload.hasPrefix("@") {
            let path = String(payload.dropFirst())
            guard let data = FileManager.default.contents(atPath: path) else { Terminal.fail("vigil mapping explain: cannot read \(path)") }
            return Array(data)
        }
        guard let bytes = Hex.decode(payload) else {
            Terminal.fail("vigil mapping explain: a Sparkplug payload is binary: give it as hex digits, @FILE or - (standard input)")
        }
        return bytes
    }
}

/// Hex digits (spaces and a leading 0x allowed) to bytes.
enum Hex {
    static func decode(_ text: String) -> [UInt8]? {
        var digits = text.filter { !$0.isWhitespace }
        if digits.hasPrefix("0x") { digits.removeFirst(2) }
        guard digits.count % 2 == 0, !digits.isEmpty else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = digits.startIndex
        while index < digits.endIndex {
            let next = digits.index(index, offsetBy: 2)
            guard let byte = UInt8(digits[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }
}
