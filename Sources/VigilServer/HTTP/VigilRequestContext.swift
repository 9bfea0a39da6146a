import Hummingbird
import NIOCore

/// The request context of every route: the client's address (for the login limiter and logs).
public struct VigilRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// The connection, to notice a client that went away while its query runs.
    public let channel: any Channel
    /// Who is asking, once `RequireRole` has let the request through.
    public var principal: Principal?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
        channel = source.channel
    }

    /// The client's IP address as text ("unknown" when the channel has none).
    public var clientAddress: String { remoteAddress?.ipAddress ?? "unknown" }
}

/// A context that can carry the authenticated principal to the handlers behind `RequireRole`.
public protocol PrincipalRequestContext: RequestContext {
    var principal: Principal? { get set }
}

extension VigilRequestContext: PrincipalRequestContext {}
