import Logging
import ServiceLifecycle
import VigilCore
import VigilMQTT

/// Runs alerting: evaluates every reading from the bus, ticks for time-driven changes (and
/// samples the gateway's own health for the self-alerts), and runs one outbox deliverer per notifier.
/// Ends when the bus ends during shutdown; queued notifications stay in the outbox for next time.
public struct AlertService: Service {
    let center: AlertCenter
    let subscription: ReadingSubscription
    /// Connection options of the configured MQTT brokers, by name (for MQTT notifiers).
    let brokers: [String: MosquittoClient.Options]
    let selfReadings: @Sendable (Int64) -> [Reading]
    let logger: Logger

    public init(center: AlertCenter, subscription: ReadingSubscription, brokers: [String: MosquittoClient.Options],
                selfReadings: @escaping @Sendable (Int64) -> [Reading], logger: Logger) {
        self.center = center
        self.subscription = subscription
        self.brokers = brokers
        self.selfReadings = selfReadings
        self.logger = logger
    }

    /// Builds the notifiers up front, so a bad CA file or an MQTT client that cannot be created
    /// stops the start with a clear message instead of failing quietly later.
    public static func makeNotifiers(_ configs: [NotifierConfig], brokers: [String: MosquittoClient.Options], logger: Logger) throws -> [any AlertNotifier] {
        var out: [any AlertNotifier] = []
        for config in configs {
            do {
                switch config.kind {
                case .webhook(let settings): out.append(try WebhookNotifier(name: config.name, settings: settings, timeout: config.timeout))
                case .alertmanager(let settings):
                    out.append(try AlertmanagerNotifier(name: config.name, settings: settings, timeout: config.timeout))
                case .mqtt(let settings):
                    guard let broker = brokers[settings.broker] else {
                        throw NotifierError.rejected("no MQTT broker named '\(settings.broker)'")
                    }
                    out.append(try MQTTNotifier(name: config.name, settings: settings, broker: broker, logger: logger))
                }
            } catch {
                throw NotifierSetupError(description: "alert notifier '\(config.name)' (\(config.typeName)): \(error)")
            }
        }
        return out
    }

    public struct NotifierSetupError: Error, CustomStringConvertible {
        public let description: String
    }

    public func run() async throws {
        let config = center.config
        let notifiers = try Self.makeNotifiers(config.notifiers, brokers: brokers, logger: logger)
        logger.info("alerting started", metadata: [
            "rules": "\(center.rules.count)", "notifiers": "\(notifiers.map(\.name).joined(separator: ","))"])
        await withTaskGroup(of: Void.self) { group in
            for notifier in notifiers {
                guard let settings = config.notifiers.first(where: { $0.name == notifier.name }) else { continue }
                let deliverer = OutboxDeliverer(center: center, notifier: notifier, config: settings, logger: logger)
                group.addTask { await deliverer.run() }
            }
            group.addTask { [center, selfReadings] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: center.config.evaluationInterval)
                    let now = WallClock.nowMs()
                    let own = selfReadings(now)
                    if !own.isEmpty { center.observe(own, now: now) }
                    center.tick(now: now)
                }
            }
            for await batch in subscription {
                center.observe(batch, now: WallClock.nowMs())
            }
            group.cancelAll()
        }
        if await !center.flush() {
            logger.error("alert state changes could not all be saved before the stop")
        }
        for notifier in notifiers { await notifier.shutdown() }
    }
}
