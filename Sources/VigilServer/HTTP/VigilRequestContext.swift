import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// The request context of every route: the client's address (for the login limiter and logs) and
/// the WebSocket upgrade slot of the live stream.
public struct VigilRequestContext: RequestContext, RemoteAddressRequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<Self>
    public let remoteAddress: SocketAddress?
    /// For answering a refused WebSocket upgrade with its real status (see LiveRoutes).
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        remoteAddress = source.channel.remoteAddress
        channel = source.channel
    }

    /// The client's IP address as text ("unknown" when the channel has none).
    public var clientAddress: String { remoteAddress?.ipAddress ?? "unknown" }
}
