import Logging
import ServiceLifecycle
import UnixSignals
import VigilIngest
import VigilStore

/// SIGHUP: re-reads the config files. A config that fails validation is rejected with one log line
/// and the running settings stay; a valid one is handed to every registered hook (today the log
/// level; alert rules will hook in here too). Settings that need a restart are named in a warning.
struct ReloadService: Service {
    let configPath: String
    let current: VigilConfiguration
    let hooks: [@Sendable (VigilConfiguration) -> Void]
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        var running = current
        for await _ in signals.cancelOnGracefulShutdown() {
            logger.info("SIGHUP: reloading configuration", metadata: ["path": "\(configPath)"])
            let next: VigilConfiguration
            do {
                next = try VigilConfiguration.load(path: configPath)
            } catch {
                logger.error("reload rejected, keeping the running configuration: \(error)")
                continue
            }
            for warning in next.warnings { logger.warning("\(warning)") }
            let restartNeeded = Self.restartOnlyChanges(from: running, to: next)
            if !restartNeeded.isEmpty {
                logger.warning("these changes take effect only after a restart: \(restartNeeded.joined(separator: ", "))")
            }
            for hook in hooks { hook(next) }
            running = next
            logger.info("configuration reloaded")
        }
    }

    static func restartOnlyChanges(from old: VigilConfiguration, to new: VigilConfiguration) -> [String] {
        var changed: [String] = []
        if old.http.listenDescription != new.http.listenDescription { changed.append("http.listen") }
        if old.http.tls != new.http.tls { changed.append("http.tls") }
        if old.dataDir != new.dataDir { changed.append("data_dir") }
        let (a, b) = (old.store.options, new.store.options)
        if old.store.path != new.store.path || old.store.flushInterval != new.store.flushInterval
            || a.outOfOrderWindow != b.outOfOrderWindow || a.retention != b.retention || a.maxBytes != b.maxBytes
            || a.minuteRollupRetention != b.minuteRollupRetention || a.hourRollupRetention != b.hourRollupRetention {
            changed.append("store")
        }
        if old.mqtt.brokers.map(\.name) != new.mqtt.brokers.map(\.name) { changed.append("mqtt.brokers") }
        if old.logging.format != new.logging.format { changed.append("logging.format") }
        return changed
    }
}
