import ArgumentParser
import VigilConfig
import VigilServer

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the gateway until SIGTERM or SIGINT.",
        discussion: """
            Loads and validates the config, opens data_dir, starts the HTTPS listener and the sources.
            SIGHUP reloads the config (invalid changes are rejected and logged); SIGTERM drains and exits.

            Examples:
              vigil run --config /etc/vigil/vigil.yaml
              VIGIL_LISTEN=127.0.0.1:9443 vigil run --config samples/minimal.yaml
            """)

    @Option(name: .shortAndLong, help: ArgumentHelp("The config file.", valueName: "file"))
    var config: String

    func run() async throws {
        let loaded: VigilConfiguration
        do {
            loaded = try VigilConfiguration.load(path: config)
        } catch {
            Terminal.fail("\(error)")
        }
        do {
            try await Gateway(configPath: config, config: loaded, process: .bootstrap(loaded.logging)).run()
        } catch let error as StartupError {
            Terminal.fail("vigil: \(error)")
        }
    }
}
