#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals

/// The running gateway: opens its parts (GatewayParts), builds the router and listener
/// (GatewayRouter) and the services (GatewayServices), and runs them as one ServiceGroup.
///
/// Shutdown (SIGTERM or SIGINT) runs in reverse start order, each step finishing before the next:
/// ingest sources disconnect, the bus is closed, its consumers drain what is queued (the store's
/// flush lands here), and the HTTP listener closes last. The whole drain is bounded by
/// `gateway.shutdown_timeout`; past it, remaining work is cancelled.
public struct Gateway: Sendable {
    public let configPath: String
    public let config: VigilConfiguration
    let process: ProcessSetup

    /// `process`: the log handler and metrics registry, bootstrapped by the `run` command.
    public init(configPath: String, config: VigilConfiguration, process: ProcessSetup) {
        self.configPath = configPath
        self.config = config
        self.process = process
    }

    public func run() async throws {
        let logger = Logger(label: "vigil")
        logger.notice("starting Vigil", metadata: [
            "version": "\(BuildInfo.version)", "gateway": "\(config.gatewayName)", "config": "\(configPath)",
        ])
        for warning in config.warnings { logger.warning("\(warning)") }

        let dataLock = try DataDirectory.prepare(config.dataDir)
        defer { dataLock.release() }
        let parts = try GatewayParts.open(config, process: process, logger: logger)
        let router = GatewayRouter.make(parts)
        let application = try GatewayRouter.application(parts, router: router, logger: logger)
        let services = GatewayServices.make(parts, http: application, configPath: configPath, process: process)

        var groupConfiguration = ServiceGroupConfiguration(
            services: services.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: Logger(label: "vigil.services"))
        groupConfiguration.maximumGracefulShutdownDuration = config.shutdownTimeout
        groupConfiguration.maximumCancellationDuration = .seconds(2)
        do {
            try await ServiceGroup(configuration: groupConfiguration).run()
        } catch {
            throw describeStartupFailure(error)
        }
        logger.notice("stopped")
    }

    /// Turns the listener's bind errors into one actionable line.
    func describeStartupFailure(_ error: any Error) -> any Error {
        let address = config.http.listenDescription
        let place = config.http.listenLocation.map { " (http.listen at \($0))" } ?? ""
        if let io = error as? IOError {
            switch io.errnoCode {
            case EADDRINUSE: return StartupError("cannot listen on \(address)\(place): address already in use")
            case EACCES: return StartupError("cannot listen on \(address)\(place): permission denied (ports below 1024 need CAP_NET_BIND_SERVICE)")
            case EADDRNOTAVAIL: return StartupError("cannot listen on \(address)\(place): no such address on this machine")
            default: return StartupError("cannot listen on \(address)\(place): \(io)")
            }
        }
        return error
    }
}
