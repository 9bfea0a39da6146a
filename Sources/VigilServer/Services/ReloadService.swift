import FoundationEssentials
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals
import VigilAlerts
import VigilIngest
import VigilStore

/// Reloads the configuration on SIGHUP and when one of its files changes (checked every
/// `pollInterval` by modification time and size; an editor's save is seen within seconds).
/// A config that fails validation is rejected with one log line naming file:line:column and the
/// running settings stay (the old alert rules keep running); a valid one is handed to every hook
/// (log level, alert rules). Settings that need a restart are named in a warning.
struct ReloadService: Service {
    let configPath: String
    let current: VigilConfiguration
    let hooks: [@Sendable (VigilConfiguration) -> Void]
    let logger: Logger
    var pollInterval: Duration = .seconds(2)

    func run() async throws {
        let (triggers, trigger) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(1))
        let signals = await UnixSignalsSequence(trapping: .sighup)
        let loaded = FileListBox()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in signals { trigger.yield("SIGHUP") }
            }
            group.addTask { [current, pollInterval] in
                var files = current.files
                var seen = Self.fingerprints(files)
                while (try? await Task.sleep(for: pollInterval)) != nil {
                    let now = Self.fingerprints(files)
                    if now != seen {
                        seen = now
                        trigger.yield("file changed")
                    }
                    // Follow the file list of the last configuration that loaded (includes may change).
                    if let latest = loaded.take() {
                        files = latest
                        seen = Self.fingerprints(files)
                    }
                }
            }
            var running = current
            for await reason in triggers.cancelOnGracefulShutdown() {
                running = reload(from: running, reason: reason, loaded: loaded)
            }
            group.cancelAll()
        }
    }

    func reload(from running: VigilConfiguration, reason: String, loaded: FileListBox) -> VigilConfiguration {
        logger.info("reloading configuration", metadata: ["path": "\(configPath)", "trigger": "\(reason)"])
        let next: VigilConfiguration
        do {
            next = try VigilConfiguration.load(path: configPath)
        } catch {
            logger.error("reload rejected, keeping the running configuration: \(error)")
            return running
        }
        loaded.put(next.files)
        for warning in next.warnings { logger.warning("\(warning)") }
        let restartNeeded = Self.restartOnlyChanges(from: running, to: next)
        if !restartNeeded.isEmpty {
            logger.warning("these changes take effect only after a restart: \(restartNeeded.joined(separator: ", "))")
        }
        for hook in hooks { hook(next) }
        logger.info("configuration reloaded", metadata: ["alert_rules": "\(next.alerts.effectiveRules.count)"])
        return next
    }

    /// Modification time and size of each file ("missing" when it cannot be read).
    static func fingerprints(_ files: [String]) -> [String] {
        files.map { path in
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return "missing" }
            let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            return "\(modified)/\(attributes[.size] as? Int ?? -1)"
        }
    }

    static func restartOnlyChanges(from old: VigilConfiguration, to new: VigilConfiguration) -> [String] {
        var changed: [String] = []
        if old.http.listenDescription != new.http.listenDescription { changed.append("http.listen") }
        // New certificate files load on reload; turning TLS on or off needs a new listener.
        if (old.http.tls == .off) != (new.http.tls == .off) { changed.append("http.tls") }
        if old.dataDir != new.dataDir { changed.append("data_dir") }
        let (a, b) = (old.store.options, new.store.options)
        if old.store.path != new.store.path || old.store.flushInterval != new.store.flushInterval
            || a.outOfOrderWindow != b.outOfOrderWindow || a.retention != b.retention || a.maxBytes != b.maxBytes
            || a.minuteRollupRetention != b.minuteRollupRetention || a.hourRollupRetention != b.hourRollupRetention {
            changed.append("store")
        }
        if old.mqtt.brokers.map(\.name) != new.mqtt.brokers.map(\.name) { changed.append("mqtt.brokers") }
        if old.logging.format != new.logging.format { changed.append("logging.format") }
        if old.alerts.notifiers != new.alerts.notifiers { changed.append("alerts.notifiers") }
        return changed
    }
}

/// Hands the file list of a newly loaded configuration to the file watcher.
final class FileListBox: Sendable {
    private let files = Mutex<[String]?>(nil)
    func put(_ list: [String]) { files.withLock { $0 = list } }
    func take() -> [String]? { files.withLock { value in defer { value = nil }; return value } }
}
