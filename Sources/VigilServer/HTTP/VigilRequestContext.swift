import Hummingbird
import NIOCore

/// The request context of every route: the client's address (for the login limiter and logs).
public struct VigilRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The client's IP address as text ("unknown" when the channel has none).
    public var clientAddress: String { remoteAddress?.ipAddress ?? "unknown" }
}
