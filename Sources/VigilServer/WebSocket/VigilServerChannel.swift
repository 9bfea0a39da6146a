import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// The gateway's HTTP/1.1 connection setup for Hummingbird: a connection whose first request is a
/// WebSocket upgrade that an endpoint accepts becomes a bare `WebSocketConnection` on the channel
/// (no task, no async stream per connection: frames are handled on the event loop); every other
/// connection is served by Hummingbird's router as usual.
struct VigilServerChannel: ServerChildChannel, HTTPChannelHandler {
    enum Outcome: Sendable {
        case webSocket
        case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        case refused(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, UpgradeRefusal)
    }

    struct Value: ServerChildChannelValue {
        let outcome: EventLoopFuture<Outcome>
        let channel: any Channel
    }

    let responder: HTTPChannelHandler.Responder
    let decide: WebSocketUpgrader.Decide
    /// An HTTP keep-alive connection idle this long is closed.
    let idleTimeout: Duration
    /// Request head, URL, body size and timing limits (ConnectionLimits.swift).
    let limits: ConnectionLimits

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            // Without TCP_NODELAY, a frame that TLS writes as several records waits for the peer's
            // delayed ACK (40 ms) before its last part goes out (Nagle).
            try channel.syncOptions?.setOption(.socketOption(.tcp_nodelay), value: 1)
            // The channel keeps its last receive buffer for the next read; idle live connections
            // are the common case, so start small (it grows on large reads, like TLS records).
            try channel.syncOptions?.setOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65536))
            let headGuard = RequestHeadGuard(limits: limits)
            try channel.pipeline.syncOperations.addHandler(headGuard)
            let upgrader = WebSocketUpgrader(eventLoop: channel.eventLoop, decide: decide)
            let idleTimeout = self.idleTimeout
            let upgrades = NIOTypedHTTPServerUpgradeConfiguration<Outcome>(upgraders: [upgrader]) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                    try channel.pipeline.syncOperations.addHandler(HTTPConnectionStateHandler(idleTimeout: idleTimeout, logger: logger))
                    let http = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                        wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
                    if let refusal = upgrader.refusal.value { return .refused(http, refusal) }
                    return .http(http)
                }
            }
            var configuration = NIOUpgradableHTTPServerPipelineConfiguration(upgradeConfiguration: upgrades)
            configuration.enablePipelining = false  // NIOAsyncChannel serializes requests
            configuration.enableErrorHandling = false  // RequestLimitsHandler answers the parser's refusals
            configuration.decoderConfiguration = limits.decoderLimits
            configuration.enableResponseHeaderValidation = false  // HTTP types validate
            let outcome = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: configuration)
            // Right after the parser, so it sees each request (and the parser's errors) before the
            // upgrade handler, and every response on its way out.
            let decoder = try channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try channel.pipeline.syncOperations.addHandler(RequestLimitsHandler(limits: limits, headGuard: headGuard),
                                                           position: .after(decoder))
            return Value(outcome: outcome, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.outcome.get() {
            case .webSocket: return  // lives on in its channel handler
            case .http(let channel): await handleHTTP(asyncChannel: channel, logger: logger)
            case .refused(let channel, let refusal): try await Self.answer(refusal.answer, on: channel)
            }
        } catch {
            logger.debug("connection ended before its first request", metadata: ["error": "\(error)"])
        }
    }
}

extension VigilServerChannel {
    /// Writes a refused upgrade's answer and closes the connection.
    static func answer(_ answer: APIErrors.Answer, on channel: NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>) async throws {
        try await channel.executeThenClose { _, outbound in
            let body = ByteBuffer(string: answer.body)
            var fields = answer.headers
            fields[.contentType] = "application/json"
            fields[.contentLength] = "\(body.readableBytes)"
            fields[.connection] = "close"
            fields[.cacheControl] = "no-store"
            try await outbound.write(contentsOf: [.head(HTTPResponse(status: answer.status, headerFields: fields)), .body(body), .end(nil)])
        }
    }
}
