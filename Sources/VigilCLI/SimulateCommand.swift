import ArgumentParser
import FoundationEssentials
import Logging
import VigilConfig
import VigilIngest
import VigilServer
import VigilSimulator
#if canImport(Glibc)
import Glibc
#endif

struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Publish realistic device telemetry to an MQTT broker.",
        discussion: """
            Simulates rooms (temperature, humidity), fridges (temperature, door, power), boilers
            (temperature, power) and energy meters (power, energy counter) spread over sites. Values are
            bounded random walks at real sensor resolutions. Topics: <prefix>/<site>/<device>/<metric>.

            Examples:
              vigil simulate --mqtt mqtt://127.0.0.1:1883
              vigil simulate --mqtt mqtt://127.0.0.1:1883 --devices 200 --rate 10 --sites 5
              vigil simulate --mqtt mqtt://127.0.0.1:1883 --ticks 10 --seed 7
            """)

    @Option(help: ArgumentHelp("Broker URL.", valueName: "url"))
    var mqtt: String = "mqtt://127.0.0.1:1883"

    @Option(help: "Number of simulated devices.")
    var devices: Int = 20

    @Option(help: "Number of sites the devices are spread over.")
    var sites: Int = 2

    @Option(help: "Updates per device per second.")
    var rate: Double = 1

    @Option(help: "QoS of published messages (0, 1 or 2).")
    var qos: Int = 0

    @Option(help: "Random seed; the same seed gives the same values.")
    var seed: UInt64 = 1

    @Option(help: "First topic level.")
    var prefix: String = "sensors"

    @Option(help: "Stop after this many updates per device (default: run until interrupted).")
    var ticks: Int?

    @Option(help: "Broker username; the password is read from VIGIL_SIMULATOR_PASSWORD.")
    var username: String?

    func validate() throws {
        guard devices >= 1, devices <= 100_000 else { throw ValidationError("--devices must be from 1 to 100000") }
        guard sites >= 1 else { throw ValidationError("--sites must be at least 1") }
        guard rate > 0, rate <= 1000 else { throw ValidationError("--rate must be above 0 and at most 1000") }
        guard (0...2).contains(qos) else { throw ValidationError("--qos must be 0, 1 or 2") }
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in VigilLogHandler(label: label, format: .text, control: LogLevelControl(.info)) }
        let endpoint: (host: String, port: Int, tls: Bool)
        do {
            endpoint = try BrokerURL.parse(mqtt, at: ConfigLocation(file: "--mqtt", line: 1, column: 1), key: "--mqtt")
        } catch {
            Terminal.fail("vigil simulate: \(error.message)")
        }
        var options = Simulator.Options(host: endpoint.host, port: endpoint.port)
        options.devices = devices
        options.sites = sites
        options.rate = rate
        options.qos = qos
        options.seed = seed
        options.prefix = prefix
        options.ticks = ticks
        options.username = username
        options.password = ProcessInfo.processInfo.environment["VIGIL_SIMULATOR_PASSWORD"]
        let logger = Logger(label: "vigil.simulate")
        logger.info("simulating", metadata: ["devices": "\(devices)", "sites": "\(sites)", "rate": "\(rate)",
                                            "broker": "\(endpoint.host):\(endpoint.port)"])
        let simulator = Simulator(options: options, logger: logger)
        let task = Task { try await simulator.run() }
        // Stop cleanly on SIGINT/SIGTERM: cancel the run, which disconnects from the broker.
        let signals = SignalWatcher(signals: [SIGINT, SIGTERM]) { task.cancel() }
        defer { signals.cancel() }
        do {
            let published = try await task.value
            logger.info("simulation finished", metadata: ["published": "\(published)"])
        } catch is CancellationError {
            logger.info("simulation stopped")
        }
    }
}
