import VigilCrypto
import FoundationEssentials
import NIOCore
import NIOHTTP1

/// What an endpoint accepts an upgrade with: extra response headers, the negotiated compression,
/// limits, and how to make the endpoint object once the channel is a WebSocket.
package struct WebSocketAcceptance: Sendable {
    package var headers: [(String, String)] = []
    package var deflate: PerMessageDeflate?
    package var limits: WebSocketConnection.Limits
    /// Called on the channel's event loop, after the 101 response.
    package var makeEndpoint: @Sendable () -> any WebSocketEndpoint

    package init(headers: [(String, String)] = [], deflate: PerMessageDeflate?, limits: WebSocketConnection.Limits,
                 makeEndpoint: @escaping @Sendable () -> any WebSocketEndpoint) {
        self.headers = headers
        self.deflate = deflate
        self.limits = limits
        self.makeEndpoint = makeEndpoint
    }
}

/// Why an upgrade was refused: the HTTP answer the connection gets instead of 101. `kind` is a
/// short machine-readable word (`bad_data`, `unauthorized`, ...), `message` says it for people;
/// the server decides how to render them.
package struct WebSocketRefusal: Error, Sendable {
    package var status: HTTPResponseStatus
    package var kind: String
    package var message: String
    package var headers: HTTPHeaders

    package init(status: HTTPResponseStatus, kind: String, message: String, headers: HTTPHeaders = [:]) {
        self.status = status
        self.kind = kind
        self.message = message
        self.headers = headers
    }
}

/// The RFC 6455 opening handshake as a protocol upgrader for NIO's typed HTTP upgrade handler.
/// One instance per TCP connection: `buildUpgradeResponse` decides (asynchronously, for
/// authentication) and keeps its decision for `upgrade`, so a request is checked only once.
/// A refused upgrade is answered with the status that says why (403, 401, 400, 503, 404): NIO does
/// not hand a refused upgrade request on to the HTTP routes, so the refusal is kept for the
/// server's channel setup to write. `UpgradeResult` is what the server's upgrade configuration
/// gets back for an upgraded channel.
package final class WebSocketUpgrader<UpgradeResult: Sendable>: NIOTypedHTTPServerProtocolUpgrader, Sendable {
    package typealias Decide = @Sendable (HTTPRequestHead, any Channel) async -> Result<WebSocketAcceptance, WebSocketRefusal>

    package let supportedProtocol = "websocket"
    // Checked in buildUpgradeResponse: NIO would also want them named in `Connection`.
    package let requiredUpgradeHeaders: [String] = []
    let decide: Decide
    let upgraded: UpgradeResult
    let prepare: @Sendable (ChannelPipeline.SynchronousOperations) -> Void
    private let accepted: NIOLoopBoundBox<WebSocketAcceptance?>
    /// Set when the last upgrade request was refused (read on the event loop).
    package let refusal: NIOLoopBoundBox<WebSocketRefusal?>

    /// `prepare` runs on the event loop just before the WebSocket handler is added, after NIO
    /// removed its HTTP handlers: the server removes its own HTTP-only handlers there.
    package init(eventLoop: any EventLoop, upgraded: UpgradeResult,
                 prepare: @escaping @Sendable (ChannelPipeline.SynchronousOperations) -> Void = { _ in },
                 decide: @escaping Decide) {
        self.decide = decide
        self.upgraded = upgraded
        self.prepare = prepare
        self.accepted = NIOLoopBoundBox(nil, eventLoop: eventLoop)
        self.refusal = NIOLoopBoundBox(nil, eventLoop: eventLoop)
    }

    package func buildUpgradeResponse(channel: any Channel, upgradeRequest: HTTPRequestHead, initialResponseHeaders: HTTPHeaders) -> EventLoopFuture<HTTPHeaders> {
        let key = upgradeRequest.headers["sec-websocket-key"].first?.trimmingCharacters() ?? ""
        guard upgradeRequest.method == .GET, upgradeRequest.headers["sec-websocket-version"].first == "13",
              let decoded = Data(base64Encoded: key), decoded.count == 16 else {
            let refusal = WebSocketRefusal(status: .badRequest, kind: "bad_data",
                                           message: "a WebSocket upgrade needs GET, Sec-WebSocket-Version: 13 and a 16-byte Sec-WebSocket-Key",
                                           headers: ["Sec-WebSocket-Version": "13"])
            self.refusal.value = refusal
            return channel.eventLoop.makeFailedFuture(refusal)
        }
        let promise = channel.eventLoop.makePromise(of: WebSocketAcceptance.self)
        let accepted = self.accepted
        let refused = self.refusal
        promise.completeWithTask { [decide] in try await decide(upgradeRequest, channel).get() }
        return promise.futureResult.flatMapErrorThrowing { error in
            refused.value = error as? WebSocketRefusal
            throw error
        }.map { acceptance in  // on the event loop
            accepted.value = acceptance
            var headers = initialResponseHeaders
            headers.add(name: "Sec-WebSocket-Accept", value: Self.acceptValue(key))
            for (name, value) in acceptance.headers { headers.add(name: name, value: value) }
            if let deflate = acceptance.deflate { headers.add(name: "Sec-WebSocket-Extensions", value: deflate.responseHeader) }
            return headers
        }
    }

    package func upgrade(channel: any Channel, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<UpgradeResult> {
        channel.eventLoop.makeCompletedFuture {
            guard let acceptance = accepted.value else { throw ChannelError.inappropriateOperationForState }
            accepted.value = nil
            // NIO removes its own HTTP handlers, the server its own: from here on, bytes are frames.
            let pipeline = channel.pipeline.syncOperations
            prepare(pipeline)
            let connection = WebSocketConnection(limits: acceptance.limits, deflate: acceptance.deflate, endpoint: acceptance.makeEndpoint())
            try pipeline.addHandler(connection)
            return upgraded
        }
    }

    /// base64(SHA-1(key + the RFC's GUID)) (§4.2.2).
    package static func acceptValue(_ key: String) -> String {
        Data(Digest.sha1(Array((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8))).base64EncodedString()
    }
}
