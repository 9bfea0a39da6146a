import ArgumentParser
import FoundationEssentials
import VigilServer
import VigilStore

/// Where the store is: `--data-dir DIR` (the store is DIR/metrics.db) or `--config FILE` (its
/// `data_dir` and `store:` section).
struct StoreLocation: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: ArgumentHelp("The gateway's data_dir.", valueName: "dir"))
    var dataDir: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("Take data_dir and the store settings from this config.", valueName: "file"))
    var config: String?

    func validate() throws {
        guard (dataDir == nil) != (config == nil) else { throw ValidationError("give either --data-dir or --config") }
    }

    /// The store settings, from the config or the defaults.
    func settings() throws -> (dataDir: String, settings: StoreSettings) {
        if let config {
            let loaded = try VigilConfiguration.load(path: config)
            return (loaded.dataDir, loaded.store)
        }
        let directory = URL(fileURLWithPath: dataDir!).standardizedFileURL.path
        return (directory, StoreSettings.defaults(dataDir: directory))
    }

    /// Locks the data directory (a running gateway holds it: the store has one writer) and opens
    /// the store for writing, with `adjust` applied to its options; any failure ends the command
    /// with one line naming it. Release the lock when done.
    func openForWriting(_ command: String, adjust: (inout StoreOptions) -> Void = { _ in })
        -> (store: MetricStore, settings: StoreSettings, lock: DataDirectory) {
        let (dataDir, settings): (String, StoreSettings)
        do { (dataDir, settings) = try self.settings() } catch { Terminal.fail("vigil \(command): \(error)") }
        let lock: DataDirectory
        do {
            lock = try DataDirectory.prepare(dataDir)
        } catch {
            Terminal.fail("vigil \(command): \(error); stop the gateway first (the store has one writer)")
        }
        var options = settings.options
        adjust(&options)
        do {
            return (try MetricStore(options: options), settings, lock)
        } catch {
            lock.release()
            Terminal.fail("vigil \(command): cannot open \(settings.path): \(error)")
        }
    }

    /// Opens the store read-only: safe while a gateway writes to it.
    func openReadOnly() throws -> MetricStore {
        let (_, settings) = try settings()
        do {
            return try MetricStore(options: settings.options, readOnly: true)
        } catch {
            throw CLIError("cannot open the store at \(settings.path): \(error)")
        }
    }
}

/// An error for the user: printed as one line, exit status 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
