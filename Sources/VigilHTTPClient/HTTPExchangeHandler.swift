import NIOCore
import NIOHTTP1
import VigilTLS

/// One request and where its answer goes, handed to the connection's `HTTPExchangeHandler`.
struct HTTPExchange: Sendable {
    let head: HTTPRequestHead
    let body: ByteBuffer
    let deadline: NIODeadline
    /// Bytes of the answer's body to keep; the rest is read and dropped.
    let keepBodyBytes: Int
    let promise: EventLoopPromise<HTTPExchangeResult>
}

struct HTTPExchangeResult: Sendable {
    let response: HTTPClientResponse
    /// The connection may carry the next request (HTTP/1.1 keep-alive, the body read to its end).
    let reusable: Bool
}

/// The top of a client connection's pipeline: says when the connection is ready for requests
/// (connected, and with TLS the server's certificate accepted), writes one request at a time,
/// collects the answer, and fails it with a reason when the connection ends, errs or outlives the
/// deadline (the connection is closed then: a late answer must never be taken for the next
/// request's).
final class HTTPExchangeHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPExchange
    typealias OutboundOut = HTTPClientRequestPart

    /// Completed when requests can go out, or failed with why they never will on this connection.
    let ready: EventLoopPromise<Void>
    private let waitsForTLS: Bool
    private var current: HTTPExchange?
    private var timer: Scheduled<Void>?
    private var status = 0
    private var keepAlive = false
    private var body: [UInt8] = []
    private var receivedAny = false

    init(ready: EventLoopPromise<Void>, waitsForTLS: Bool) {
        self.ready = ready
        self.waitsForTLS = waitsForTLS
    }

    /// A connection that never came up (refused, timed out) is never active nor inactive: its
    /// promises end here.
    func handlerRemoved(context: ChannelHandlerContext) {
        ready.fail(HTTPClientError.closed(beforeAnyResponse: true))
        timer?.cancel()
        current?.promise.fail(HTTPClientError.closed(beforeAnyResponse: !receivedAny))
        current = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        if !waitsForTLS { ready.succeed() }
        context.fireChannelActive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is TLSHandshakeCompleted { ready.succeed() }
        context.fireUserInboundEventTriggered(event)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let exchange = unwrapOutboundIn(data)
        guard current == nil else {
            exchange.promise.fail(HTTPClientError.io("a request is already in flight on this connection"))
            promise?.succeed()
            return
        }
        current = exchange
        status = 0
        body = []
        receivedAny = false
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: exchange.deadline) { [weak self] in
            self?.finish(context, with: .failure(HTTPClientError.timeout), close: true)
        }
        // From here the exchange's own promise reports the outcome; the write itself is done.
        promise?.succeed()
        context.write(wrapOutboundOut(.head(exchange.head)), promise: nil)
        if exchange.body.readableBytes > 0 { context.write(wrapOutboundOut(.body(.byteBuffer(exchange.body))), promise: nil) }
        let sent = context.eventLoop.makePromise(of: Void.self)
        sent.futureResult.assumeIsolated().whenFailure { [weak self] _ in
            // A kept connection the server closed as we wrote: no answer, so safe to send again.
            guard let self else { return }
            self.finish(context, with: .failure(HTTPClientError.closed(beforeAnyResponse: !self.receivedAny)), close: true)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: sent)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        receivedAny = true
        switch unwrapInboundIn(data) {
        case .head(let head):
            // 1xx (100 Continue, 103 Early Hints) come before the answer proper.
            guard head.status.code >= 200 else { return }
            status = Int(head.status.code)
            keepAlive = head.isKeepAlive
        case .body(var bytes):
            guard let current else { return }
            let room = current.keepBodyBytes - body.count
            if room > 0, let kept = bytes.readBytes(length: min(room, bytes.readableBytes)) { body += kept }
        case .end:
            guard status > 0 else { return }
            let response = HTTPClientResponse(status: status, body: body)
            finish(context, with: .success(HTTPExchangeResult(response: response, reusable: keepAlive)), close: !keepAlive)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        ready.fail(HTTPClientError.closed(beforeAnyResponse: true))
        finish(context, with: .failure(HTTPClientError.closed(beforeAnyResponse: !receivedAny)), close: false)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let failure: HTTPClientError
        switch error {
        case let error as HTTPClientError: failure = error
        case let error as TLSConnectionError: failure = .tls(error.description)
        default: failure = .io("\(error)")
        }
        ready.fail(failure)
        finish(context, with: .failure(failure), close: true)
    }

    private func finish(_ context: ChannelHandlerContext, with result: Result<HTTPExchangeResult, any Error>, close: Bool) {
        timer?.cancel()
        timer = nil
        if let current {
            self.current = nil
            current.promise.completeWith(result)
        }
        if close { context.close(promise: nil) }
    }
}
