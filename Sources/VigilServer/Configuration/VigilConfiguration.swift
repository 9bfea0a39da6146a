import FoundationEssentials
import VigilAlerts
import VigilConfig
import VigilForward
import VigilIngest
import VigilStore

/// The whole gateway configuration, decoded and validated. Built only through `load`, so a value
/// of this type is always a config that `vigil check-config` would accept.
public struct VigilConfiguration: Sendable {
    public var gatewayName: String
    public var dataDir: String
    public var shutdownTimeout: Duration
    public var http: HTTPSettings
    public var auth: AuthSettings
    public var logging: LoggingSettings
    public var store: StoreSettings
    public var normalize: NormalizeConfig
    public var mqtt: MQTTConfig
    public var alerts: AlertsConfig
    public var serial: SerialConfig
    public var modbus: ModbusConfig
    public var forward: ForwardConfig
    /// `query:`: the timeout and sample limit of every API query.
    public var query: QueryBudget.Limits
    /// Every file read (the main file and its includes).
    public var files: [String]
    public var warnings: [ConfigDiagnostic]

    public static func load(
        path: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> VigilConfiguration {
        let (root, files) = try ConfigLoader(environment: environment).load(path: path)
        let diagnostics = ConfigDiagnostics()
        let top = try ConfigObject(root, path: "", diagnostics: diagnostics)

        let gateway = try top.section("gateway")
        let gatewayName = try gateway.string("name", default: Self.hostName())
        let shutdownTimeout = try gateway.duration("shutdown_timeout", default: .seconds(10))
        try gateway.finish()

        let dataDirRaw = try top.string("data_dir", default: "/var/lib/vigil")
        guard !dataDirRaw.isEmpty else {
            throw ConfigError("data_dir must not be empty", at: top.location(of: "data_dir"))
        }
        let dataDir = URL(fileURLWithPath: dataDirRaw).standardizedFileURL.path

        let mqtt = try MQTTConfig.decode(try top.section("mqtt"), gatewayName: gatewayName)
        let store = try StoreSettings.decode(try top.section("store"), dataDir: dataDir)
        let config = VigilConfiguration(
            gatewayName: gatewayName,
            dataDir: dataDir,
            shutdownTimeout: shutdownTimeout,
            http: try HTTPSettings.decode(try top.section("http")),
            auth: try AuthSettings.decode(try top.section("auth")),
            logging: try LoggingSettings.decode(try top.section("logging")),
            store: store,
            normalize: try NormalizeConfig.decode(try top.section("normalize"), defaultMaxAge: store.options.retention),
            mqtt: mqtt,
            alerts: try AlertsConfig.decode(try top.section("alerts"), brokers: mqtt.brokers.map(\.name)),
            serial: try SerialConfig.decode(try top.section("serial")),
            modbus: try ModbusConfig.decode(try top.section("modbus")),
            forward: try ForwardConfig.decode(try top.section("forward"), gatewayName: gatewayName),
            query: try QuerySettings.decode(try top.section("query")),
            files: files,
            warnings: [])
        try top.finish()
        var result = config
        result.warnings = diagnostics.warnings
        return result
    }

    static func hostName() -> String {
        let name = ProcessInfo.processInfo.hostName
        return name.isEmpty ? "vigil" : name
    }
}
