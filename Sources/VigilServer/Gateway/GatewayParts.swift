import FoundationEssentials
import Logging
import VigilAlerts
import VigilCore
import VigilIngest
import VigilLive
import VigilStore

/// Everything the gateway opens before it serves: the store, the alert state, the bus and its
/// bookkeeping, TLS, sessions and the live hub. Built once by `open`; the router and the services
/// are made from it.
struct GatewayParts: Sendable {
    let config: VigilConfiguration
    let store: MetricStore
    let storeHealth: StoreHealth
    let bus: ReadingBus
    let board: SourceStatusBoard
    let rejects: IngestRejects
    let alerts: AlertCenter
    let metrics: MetricsExposition
    let normalizer: Normalizer
    let tls: TLSProvisioning.Material?
    let authenticator: Authenticator
    let hub: LiveHub

    /// Opens the data directory's contents (the caller holds its lock).
    static func open(_ config: VigilConfiguration, process: ProcessSetup, logger: Logger) throws -> GatewayParts {
        let store: MetricStore
        do {
            store = try MetricStore(options: config.store.options)
        } catch {
            throw StartupError("cannot open the metric store at \(config.store.path): \(error)")
        }
        logger.notice("store opened", metadata: ["path": "\(config.store.path)", "series": "\(store.seriesCount)"])
        let storeHealth = StoreHealth()
        let bus = ReadingBus()
        let board = SourceStatusBoard()
        let rejects = IngestRejects(logger: Logger(label: "vigil.ingest"))
        let alerts: AlertCenter
        do {
            alerts = try AlertCenter(config: config.alerts, databasePath: FilePaths.join(config.dataDir, "alerts.db"),
                                     gateway: config.gatewayName, externalURL: externalURL(config), logger: Logger(label: "vigil.alerts"))
        } catch {
            throw StartupError("cannot open the alert state in \(config.dataDir)/alerts.db: \(error)")
        }
        let metrics = MetricsExposition(registry: process.registry, bus: bus, board: board,
                                        store: StoreMetricsSource(store: store, health: storeHealth),
                                        alerts: alerts, ledger: rejects.ledger, gatewayName: config.gatewayName)
        let tls = try TLSProvisioning.load(config.http.tls, dataDir: config.dataDir, gatewayName: config.gatewayName, logger: logger)
        if let tls {
            logger.notice("TLS certificate loaded", metadata: ["path": "\(tls.certificatePath)", "sha256_fingerprint": "\(tls.fingerprint)"])
        }
        let sessions = SessionStore(path: FilePaths.join(config.dataDir, "sessions.json"), ttl: config.auth.sessionTTL)
        return GatewayParts(
            config: config, store: store, storeHealth: storeHealth, bus: bus, board: board, rejects: rejects, alerts: alerts,
            metrics: metrics, normalizer: Normalizer(config: config.normalize), tls: tls,
            authenticator: Authenticator(settings: config.auth, sessions: sessions, logger: Logger(label: "vigil.auth")),
            hub: LiveHub(settings: config.http.ws, store: store, board: board, bus: bus, logger: Logger(label: "vigil.live")))
    }

    /// Where notifications link to: `alerts.external_url`, or this gateway's own listener
    /// (with the host name when it listens on every address).
    static func externalURL(_ config: VigilConfiguration) -> String {
        if let url = config.alerts.externalURL { return url }
        let scheme = config.http.tls == .off ? "http" : "https"
        var host = config.http.host
        if host == "0.0.0.0" || host == "::" || host.isEmpty { host = VigilConfiguration.hostName() }
        if host.contains(":") { host = "[\(host)]" }
        return "\(scheme)://\(host):\(config.http.port)/"
    }
}
