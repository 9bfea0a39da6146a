import Logging
import Synchronization
import VigilCore
import VigilIngest
import VigilMQTT

/// `vigil simulate`: publishes telemetry from `devices` simulated devices to an MQTT broker under
/// `<prefix>/<site>/<device>/<metric>`, each device `rate` times per second.
public struct Simulator: Sendable {
    public struct Options: Sendable {
        public var host: String
        public var port: Int
        public var devices: Int = 20
        public var sites: Int = 2
        /// Updates per device per second.
        public var rate: Double = 1
        public var seed: UInt64 = 1
        public var qos: Int = 0
        public var prefix: String = "sensors"
        /// Stop after this many ticks (every device publishes once per tick); nil runs until stopped.
        public var ticks: Int?
        public var username: String?
        public var password: String?

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    public let options: Options
    let logger: Logger

    public init(options: Options, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    /// Runs until `ticks` are done or the task is cancelled. Returns the number of messages published.
    @discardableResult
    public func run() async throws -> Int {
        var random = SplitMix64(seed: options.seed)
        var devices: [SimulatedDevice] = []
        for i in 0..<options.devices {
            devices.append(SimulatedDevice(site: "site-\(i % max(1, options.sites) + 1)", index: i / max(1, options.sites),
                                           random: &random))
        }
        let connection = ConnectionFlag()
        var clientOptions = MosquittoClient.Options(
            host: options.host, port: options.port, clientID: "vigil-simulator-\(options.seed)-\(WallClock.nowMs() % 100_000)")
        clientOptions.username = options.username
        clientOptions.password = options.password
        clientOptions.reconnectMinimum = .milliseconds(200)
        clientOptions.reconnectMaximum = .seconds(5)
        let logger = self.logger
        let failures = FailureLog()
        let client = try MosquittoClient(options: clientOptions, onMessage: { _ in }, onEvent: { event in
            switch event {
            case .connected:
                connection.set(true)
                failures.recovered()
                logger.info("simulator connected to broker")
            case .connectFailed(let reason), .refused(let reason), .connectionLost(let reason):
                connection.set(false)
                failures.report("simulator cannot reach the broker: \(reason)", to: logger)
            default: break
            }
        })
        client.start()
        defer { Task { await client.stop() } }

        let tickInterval = Duration.milliseconds(Int64((1000 / max(options.rate, 0.001)).rounded()))
        let seconds = 1 / max(options.rate, 0.001)
        var published = 0
        var skipped = 0
        var tick = 0
        var lastReport = ContinuousClock.now
        var publishedAtReport = 0
        let clock = ContinuousClock()
        var next = clock.now
        while options.ticks.map({ tick < $0 }) ?? true {
            try Task.checkCancellation()
            if !connection.value {
                try await Task.sleep(for: .milliseconds(100))
                next = clock.now
                continue
            }
            for index in devices.indices {
                let device = devices[index]
                for (metric, payload) in devices[index].step(seconds: seconds, random: &random) {
                    let topic = "\(options.prefix)/\(device.site)/\(device.name)/\(metric)"
                    do {
                        try client.publish(topic: topic, payload: payload, qos: options.qos, retain: false)
                        published += 1
                    } catch {
                        skipped += 1
                    }
                }
            }
            tick += 1
            if clock.now - lastReport >= .seconds(10) {
                let elapsed = Double((clock.now - lastReport).milliseconds) / 1000
                logger.info("simulator progress", metadata: [
                    "published": "\(published)", "rate_per_s": "\(Int(Double(published - publishedAtReport) / elapsed))",
                    "not_sent": "\(skipped)",
                ])
                lastReport = clock.now
                publishedAtReport = published
            }
            next = next.advanced(by: tickInterval)
            if next > clock.now { try await Task.sleep(until: next, clock: clock) } else { next = clock.now }
        }
        // Give the last QoS 0 messages a moment to leave the socket before disconnecting.
        try? await Task.sleep(for: .milliseconds(200))
        await client.stop()
        return published
    }
}

final class ConnectionFlag: Sendable {
    private let flag = Mutex(false)
    var value: Bool { flag.withLock { $0 } }
    func set(_ value: Bool) { flag.withLock { $0 = value } }
}
