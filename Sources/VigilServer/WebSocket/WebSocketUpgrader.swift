import Crypto
import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1

/// What an endpoint accepts an upgrade with: extra response headers, the negotiated compression,
/// limits, and how to make the endpoint object once the channel is a WebSocket.
struct WebSocketAcceptance: Sendable {
    var headers: [(String, String)] = []
    var deflate: PerMessageDeflate?
    var limits: WebSocketConnection.Limits
    /// Called on the channel's event loop, after the 101 response.
    var makeEndpoint: @Sendable () -> any WebSocketEndpoint
}

/// Why an upgrade was refused: the HTTP answer the connection gets instead of 101.
struct UpgradeRefusal: Error, Sendable {
    let answer: APIErrors.Answer
}

/// The RFC 6455 opening handshake as a protocol upgrader for NIO's typed HTTP upgrade handler.
/// One instance per TCP connection: `buildUpgradeResponse` decides (asynchronously, for
/// authentication) and keeps its decision for `upgrade`, so a request is checked only once.
/// A refused upgrade is answered with the status that says why (403, 401, 400, 503, 404): NIO does
/// not hand a refused upgrade request on to the HTTP routes, so the refusal is kept for
/// `VigilServerChannel` to write.
final class WebSocketUpgrader: NIOTypedHTTPServerProtocolUpgrader, Sendable {
    typealias UpgradeResult = VigilServerChannel.Outcome
    typealias Decide = @Sendable (HTTPRequestHead, any Channel) async -> Result<WebSocketAcceptance, UpgradeRefusal>

    let supportedProtocol = "websocket"
    // Checked in buildUpgradeResponse: NIO would also want them named in `Connection`.
    let requiredUpgradeHeaders: [String] = []
    let decide: Decide
    private let accepted: NIOLoopBoundBox<WebSocketAcceptance?>
    /// Set when the last upgrade request was refused (read on the event loop).
    let refusal: NIOLoopBoundBox<UpgradeRefusal?>

    init(eventLoop: any EventLoop, decide: @escaping Decide) {
        self.decide = decide
        self.accepted = NIOLoopBoundBox(nil, eventLoop: eventLoop)
        self.refusal = NIOLoopBoundBox(nil, eventLoop: eventLoop)
    }

    func buildUpgradeResponse(channel: any Channel, upgradeRequest: HTTPRequestHead, initialResponseHeaders: HTTPHeaders) -> EventLoopFuture<HTTPHeaders> {
        let key = upgradeRequest.headers["sec-websocket-key"].first?.trimmingCharacters() ?? ""
        guard upgradeRequest.method == .GET, upgradeRequest.headers["sec-websocket-version"].first == "13",
              let decoded = Data(base64Encoded: key), decoded.count == 16 else {
            let refusal = UpgradeRefusal(answer: .init(status: .badRequest, type: "bad_data",
                                                       message: "a WebSocket upgrade needs GET, Sec-WebSocket-Version: 13 and a 16-byte Sec-WebSocket-Key",
                                                       headers: [.secWebSocketVersion: "13"]))
            self.refusal.value = refusal
            return channel.eventLoop.makeFailedFuture(refusal)
        }
        let promise = channel.eventLoop.makePromise(of: WebSocketAcceptance.self)
        let accepted = self.accepted
        let refused = self.refusal
        promise.completeWithTask { [decide] in try await decide(upgradeRequest, channel).get() }
        return promise.futureResult.flatMapErrorThrowing { error in
            refused.value = error as? UpgradeRefusal
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

    func upgrade(channel: any Channel, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<UpgradeResult> {
        channel.eventLoop.makeCompletedFuture {
            guard let acceptance = accepted.value else { throw ChannelError.inappropriateOperationForState }
            accepted.value = nil
            // NIO removes its own HTTP handlers; the HTTP limits go too: from here on, bytes are frames.
            let pipeline = channel.pipeline.syncOperations
            if let limits = try? pipeline.handler(type: RequestLimitsHandler.self) { pipeline.removeHandler(limits, promise: nil) }
            if let headGuard = try? pipeline.handler(type: RequestHeadGuard.self) { pipeline.removeHandler(headGuard, promise: nil) }
            let connection = WebSocketConnection(limits: acceptance.limits, deflate: acceptance.deflate, endpoint: acceptance.makeEndpoint())
            try pipeline.addHandler(connection)
            return .webSocket
        }
    }

    /// base64(SHA-1(key + the RFC's GUID)) (§4.2.2).
    static func acceptValue(_ key: String) -> String {
        Data(Insecure.SHA1.hash(data: Data((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8))).base64EncodedString()
    }
}
