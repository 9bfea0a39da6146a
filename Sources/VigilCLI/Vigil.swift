import ArgumentParser

@main
struct Vigil: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigil",
        abstract: "Monitoring gateway for edge Linux boxes: MQTT and serial ingest, a local metric store, a live console.",
        discussion: """
            Examples:
              vigil run --config /etc/vigil/vigil.yaml
              vigil check-config samples/*.yaml
              vigil alerts test --config samples/alerts.yaml --input samples/alerts-readings.csv
              vigil query --data-dir /var/lib/vigil 'temperature{site="a"}' --start=-1h
              vigil import --data-dir /var/lib/vigil --format csv history.csv
              vigil passwd < password.txt
              vigil simulate --mqtt mqtt://127.0.0.1:1883 --devices 20 --rate 1
            """,
        version: VersionCommand.versionLine,
        subcommands: [RunCommand.self, CheckConfigCommand.self, AlertsCommand.self, QueryCommand.self, ExportCommand.self, ImportCommand.self,
                      StoreCommand.self, MappingCommand.self, SimulateCommand.self, PasswdCommand.self, VersionCommand.self])
}
