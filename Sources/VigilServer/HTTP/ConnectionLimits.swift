import NIOCore
import NIOHTTP1
import Synchronization
import VigilCore

/// The HTTP limits every connection lives under (docs/security.md). Whatever breaks one gets an
/// answer with the status that says why and a close, within the documented timeouts:
///
/// | what | answer |
/// |---|---|
/// | no complete request head within `handshake_timeout` (slowloris) | close |
/// | request line longer than `max_url` | 414 |
/// | request head longer than `max_header` | 431 |
/// | a request the parser refuses (bad request line, bad or doubled Content-Length, CL with TE, …) | 400 |
/// | an HTTP version other than 1.0 and 1.1 | 505 |
/// | `Content-Length` above `max_body` | 413 (before any of the body is read) |
/// | a body not complete within `request_timeout` of its head | 408 |
struct ConnectionLimits: Sendable {
    var maxURLBytes: Int
    var maxHeaderBytes: Int
    var maxBodyBytes: Int
    var handshakeTimeout: TimeAmount
    var requestTimeout: TimeAmount

    init(_ http: HTTPSettings) {
        maxURLBytes = http.maxURLBytes
        maxHeaderBytes = http.maxHeaderBytes
        maxBodyBytes = http.maxBodyBytes
        handshakeTimeout = .milliseconds(http.handshakeTimeout.milliseconds)
        requestTimeout = .milliseconds(http.requestTimeout.milliseconds)
    }

    /// For NIO's parser: no header field or head beyond `max_header` is ever buffered.
    var decoderLimits: NIOHTTPDecoderLimitConfiguration {
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderFieldSize = maxHeaderBytes
        limits.maxHeaderListSize = maxHeaderBytes
        limits.maxHeaderFieldCount = 256
        return limits
    }

    /// The JSON error body of every refusal (the messages are our own constants: no escaping).
    static func errorBody(_ message: String) -> String {
        #"{"status":"error","errorType":"bad_request","error":""# + message + #""}"#
    }

    /// A complete answer, written as bytes where the HTTP encoder is not in the way.
    static func rawAnswer(_ status: HTTPResponseStatus, _ message: String) -> String {
        let body = errorBody(message)
        return "HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n" + body
    }
}

/// Sits on the bytes, before the HTTP parser: measures each request head as it arrives and
/// answers 414 or 431 before NIO's parser buffers an oversized URL (NIO limits header fields, not
/// the URL). Also closes a connection whose first head is not complete within the handshake
/// timeout (counted after TLS, which sits before it).
final class RequestHeadGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let limits: ConnectionLimits
    private var timer: Scheduled<Void>?
    /// Counting a head: from the connection's start, and again after each complete request.
    private var armed = true
    private var headBytes = 0
    private var firstLineBytes = 0
    private var inFirstLine = true
    /// The last bytes seen, to find the blank line (CRLF CRLF, or LF LF) across reads.
    private var tail: UInt32 = 0
    private var refused = false

    init(limits: ConnectionLimits) { self.limits = limits }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: limits.handshakeTimeout) {
            let (handler, context) = loopBound.value
            // A connection that said nothing is closed; one stuck inside a head is told why.
            if handler.headBytes == 0 {
                context.close(promise: nil)
            } else {
                handler.refuse(context: context, .requestTimeout, "the request head did not arrive within http.handshake_timeout")
            }
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) { timer?.cancel() }

    /// The request before has ended: measure the next head.
    func rearm() {
        armed = true
        headBytes = 0
        firstLineBytes = 0
        inFirstLine = true
        tail = 0
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }  // answered; the rest is not read
        guard armed else {
            context.fireChannelRead(data)
            return
        }
        let bytes = unwrapInboundIn(data)
        var tail = self.tail
        var refusal: (HTTPResponseStatus, String)?
        let headEnded = bytes.withUnsafeReadableBytes { raw -> Bool in
            for byte in raw {
                headBytes += 1
                if inFirstLine {
                    if byte == 0x0A {
                        inFirstLine = false
                    } else {
                        firstLineBytes += 1
                        // The request line holds a method and a version around the URL.
                        if firstLineBytes > limits.maxURLBytes + 32 {
                            refusal = (.uriTooLong, "the request URL is longer than http.max_url (\(limits.maxURLBytes) bytes)")
                            return false
                        }
                    }
                }
                if headBytes > limits.maxHeaderBytes + limits.maxURLBytes {
                    refusal = (.requestHeaderFieldsTooLarge, "the request head is larger than http.max_header (\(limits.maxHeaderBytes) bytes)")
                    return false
                }
                tail = tail << 8 | UInt32(byte)
                if tail == 0x0D0A_0D0A || tail & 0xFFFF == 0x0A0A { return true }
            }
            return false
        }
        self.tail = tail
        if let (status, message) = refusal {
            refuse(context: context, status, message)
            return
        }
        if headEnded {
            armed = false
            timer?.cancel()
            timer = nil
        }
        context.fireChannelRead(data)
    }

    /// Answers with `status` as raw bytes and closes.
    func refuse(context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ message: String) {
        guard !refused else { return }
        refused = true
        timer?.cancel()
        let answer = context.channel.allocator.buffer(string: ConnectionLimits.rawAnswer(status, message))
        context.writeAndFlush(wrapOutboundOut(answer)).whenComplete { _ in context.close(promise: nil) }
    }
}

/// Sits after NIO's HTTP parser: answers the parser's refusals (which NIO would leave unanswered
/// with error handling off), other HTTP versions, bodies announced larger than `max_body`, and
/// bodies that do not arrive within `request_timeout`.
final class RequestLimitsHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    let limits: ConnectionLimits
    let headGuard: RequestHeadGuard
    private var bodyTimer: Scheduled<Void>?
    /// A response to the current request has begun (so no error answer can be written any more).
    private var responding = false
    private var closing = false
    /// The client has closed its side (EOF): whatever its request started is no longer wanted.
    private var inputClosed = false
    private var watches: [ClientWatch] = []

    init(limits: ConnectionLimits, headGuard: RequestHeadGuard) {
        self.limits = limits
        self.headGuard = headGuard
    }

    func handlerRemoved(context: ChannelHandlerContext) { bodyTimer?.cancel() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            responding = false
            watches.removeAll()
            guard head.version.major == 1, head.version.minor <= 1 else {
                refuse(context: context, .httpVersionNotSupported, "only HTTP/1.0 and HTTP/1.1 are served")
                return
            }
            let lengths = head.headers["content-length"]
            if lengths.count > 1 || (!lengths.isEmpty && head.headers.contains(name: "transfer-encoding")) {
                refuse(context: context, .badRequest, "a request must have one Content-Length, or Transfer-Encoding without it")
                return
            }
            if let text = lengths.first {
                guard let length = Int(text.trimmingSpaces), length >= 0 else {
                    refuse(context: context, .badRequest, "Content-Length must be a number of bytes")
                    return
                }
                guard length <= limits.maxBodyBytes else {
                    refuse(context: context, .payloadTooLarge, "the request body is larger than http.max_body (\(limits.maxBodyBytes) bytes)")
                    return
                }
            }
            if head.headers.contains(name: "transfer-encoding") || !lengths.isEmpty {
                let channel = context.channel
                let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                bodyTimer = context.eventLoop.scheduleTask(in: limits.requestTimeout) {
                    let (handler, context) = loopBound.value
                    guard channel.isActive else { return }
                    handler.refuse(context: context, .requestTimeout,
                                   "the request body did not arrive within http.request_timeout")
                }
            }
            context.fireChannelRead(data)
        case .body:
            context.fireChannelRead(data)
        case .end:
            bodyTimer?.cancel()
            bodyTimer = nil
            headGuard.rearm()
            context.fireChannelRead(data)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed = event as? ChannelEvent { clientLeft() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        clientLeft()
        context.fireChannelInactive()
    }

    private func clientLeft() {
        inputClosed = true
        for watch in watches { watch.markGone() }
        watches.removeAll()
    }

    func add(_ watch: ClientWatch) {
        if inputClosed { watch.markGone() } else { watches.append(watch) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        if parserError == .headerOverflow {
            refuse(context: context, .requestHeaderFieldsTooLarge, "the request head is larger than http.max_header (\(limits.maxHeaderBytes) bytes)")
        } else {
            refuse(context: context, .badRequest, "malformed HTTP request (\(parserError))")
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // 1xx answers are not the response; everything else is.
        if case .head(let head) = unwrapOutboundIn(data), head.status.code >= 200 { responding = true }
        context.write(data, promise: promise)
    }

    /// Answers with `status` (unless a response has begun) and closes the connection.
    func refuse(context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ message: String) {
        guard !closing else { return }
        closing = true
        bodyTimer?.cancel()
        guard !responding else {
            context.close(promise: nil)
            return
        }
        let body = context.channel.allocator.buffer(string: ConnectionLimits.errorBody(message))
        var headers = HTTPHeaders([("Content-Type", "application/json"), ("Connection", "close"), ("Cache-Control", "no-store")])
        headers.add(name: "Content-Length", value: "\(body.readableBytes)")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }
}

extension String {
    fileprivate var trimmingSpaces: Substring {
        var slice = Substring(self)
        while slice.first == " " || slice.first == "\t" { slice.removeFirst() }
        while slice.last == " " || slice.last == "\t" { slice.removeLast() }
        return slice
    }
}

/// Tells a running request that its client has gone: the connection closed, or the client shut its
/// sending side (EOF). Hummingbird allows half-closed connections, so a closed client does not make
/// the channel inactive; like Go's net/http (which Prometheus uses), Vigil treats EOF during a
/// request as the client leaving, and stops its query.
final class ClientWatch: Sendable {
    private let gone = Atomic<Bool>(false)

    var isGone: Bool { gone.load(ordering: .relaxed) }
    func markGone() { gone.store(true, ordering: .relaxed) }

    /// A watch on `channel`'s client, registered with its RequestLimitsHandler on the event loop.
    static func watching(_ channel: any Channel) -> ClientWatch {
        let watch = ClientWatch()
        channel.eventLoop.execute {
            guard let handler = try? channel.pipeline.syncOperations.handler(type: RequestLimitsHandler.self) else {
                if !channel.isActive { watch.markGone() }
                return
            }
            handler.add(watch)
        }
        return watch
    }
}
