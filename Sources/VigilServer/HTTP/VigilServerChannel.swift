import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import VigilTLS
import VigilWebSocket

/// The gateway's HTTP/1.1 connection setup for Hummingbird: a connection whose first request is a
/// WebSocket upgrade that an endpoint accepts becomes a bare `WebSocketConnection` on the channel
/// (no task, no async stream per connection: frames are handled on the event loop); every other
/// connection is served by Hummingbird's router as usual.
struct VigilServerChannel: ServerChildChannel, HTTPChannelHandler {
    enum Outcome: Sendable {
        case webSocket
        case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        case refused(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, WebSocketRefusal)
    }

    typealias Upgrader = WebSocketUpgrader<Outcome>

    struct Value: ServerChildChannelValue {
        let outcome: EventLoopFuture<Outcome>
        let channel: any Channel
    }

    let responder: HTTPChannelHandler.Responder
    let decide: Upgrader.Decide
    /// An HTTP keep-alive connection idle this long is closed.
    let idleTimeout: Duration
    /// Request head, URL, body size and timing limits (ConnectionLimits.swift).
    let limits: ConnectionLimits
    /// TLS on OpenSSL in front of everything else (nil: plain HTTP behind a proxy).
    let tls: TLSProvisioning.Material?

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            // Without TCP_NODELAY, a frame that TLS writes as several records waits for the peer's
            // delayed ACK (40 ms) before its last part goes out (Nagle).
            try channel.syncOptions?.setOption(.socketOption(.tcp_nodelay), value: 1)
            // The channel keeps its last receive buffer for the next read; idle live connections
            // are the common case, so start small (it grows on large reads, like TLS records).
            try channel.syncOptions?.setOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65536))
            if let tls {
                try channel.pipeline.syncOperations.addHandler(TLSHandler(context: tls.slot.context, observer: tls.observer, handshakeTimeout: limits.handshakeTimeout))
            }
            let headGuard = RequestHeadGuard(limits: limits)
            try channel.pipeline.syncOperations.addHandler(headGuard)
            let upgrader = Upgrader(eventLoop: channel.eventLoop, upgraded: .webSocket, prepare: Self.removeHTTPLimits, decide: decide)
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
            case .refused(let channel, let refusal): try await Self.answer(APIErrors.Answer(refusal), on: channel)
            }
        } catch {
            logger.debug("connection ended before its first request", metadata: ["error": "\(error)"])
        }
    }
}

extension VigilServerChannel {
    /// The HTTP limits go with the upgrade: from then on, bytes are frames.
    @Sendable static func removeHTTPLimits(_ pipeline: ChannelPipeline.SynchronousOperations) {
        if let limits = try? pipeline.handler(type: RequestLimitsHandler.self) { pipeline.removeHandler(limits, promise: nil) }
        if let headGuard = try? pipeline.handler(type: RequestHeadGuard.self) { pipeline.removeHandler(headGuard, promise: nil) }
    }

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

extension WebSocketRefusal {
    /// A refusal the gateway decided, as the WebSocket layer carries it.
    init(_ answer: APIErrors.Answer) {
        var headers = HTTPHeaders()
        for field in answer.headers { headers.add(name: field.name.rawName, value: field.value) }
        self.init(status: HTTPResponseStatus(statusCode: answer.status.code), kind: answer.type, message: answer.message, headers: headers)
    }
}

extension APIErrors.Answer {
    /// The JSON error answer for a refused upgrade.
    init(_ refusal: WebSocketRefusal) {
        var fields = HTTPFields()
        for (name, value) in refusal.headers { if let name = HTTPField.Name(name) { fields.append(HTTPField(name: name, value: value)) } }
        self.init(status: HTTPResponse.Status(code: Int(refusal.status.code)), type: refusal.kind, message: refusal.message, headers: fields)
    }
}
