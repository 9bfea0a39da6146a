import FoundationEssentials
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import VigilCore
import VigilTLS

/// One URL Vigil POSTs to (a webhook, an Alertmanager, a remote-write receiver), over HTTP/1.1
/// on plain TCP or on TLS through the system's OpenSSL (`VigilTLS`).
///
/// One connection is kept open between requests and reused, so a catch-up of many remote-write
/// requests does not pay a TCP and TLS handshake each. A kept connection the server has closed
/// meanwhile is noticed before the request is sent, or, when the server closes it just as the
/// request goes out (no answer at all), the request is sent once more on a new connection.
/// No redirects are followed (a POST's answer is the receiver's verdict) and no proxy is used.
public final class HTTPEndpoint: Sendable {
    public let url: HTTPURL
    private let tls: TLSClientContext?
    private let connectTimeout: TimeAmount
    /// Longest time a kept connection waits for the next request; servers close theirs after
    /// 60 s or more (nginx 75 s, Go's net/http: never by default), so we close ours first.
    private let idleTimeout: TimeAmount = .seconds(30)
    private let state = Mutex(State())

    private struct State {
        var idle: (channel: any Channel, since: NIODeadline)?
        var shutDown = false
    }

    /// `caFile` and `insecureSkipVerify` apply to https URLs only.
    public init(url text: String, caFile: String? = nil, insecureSkipVerify: Bool = false,
                connectTimeout: Duration = .seconds(10)) throws(HTTPClientError) {
        url = try HTTPURL(text)
        if url.secure {
            do {
                tls = try TLSClientContext(caFile: caFile, verifyPeer: !insecureSkipVerify)
            } catch {
                throw .tlsSettings(error.description)
            }
        } else {
            tls = nil
        }
        self.connectTimeout = .milliseconds(connectTimeout.milliseconds)
    }

    /// POSTs `body` with `headers` (Host, Content-Length and, for URL credentials, Authorization
    /// are added). Answers with any status; throws only when no complete answer arrived.
    public func post(headers: [(String, String)], body: [UInt8], timeout: Duration,
                     keepBodyBytes: Int = 4096) async throws(HTTPClientError) -> HTTPClientResponse {
        let deadline = NIODeadline.now() + .milliseconds(timeout.milliseconds)
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: url.target)
        head.headers.add(name: "Host", value: url.hostHeader)
        for (name, value) in headers { head.headers.replaceOrAdd(name: name, value: value) }
        if let credentials = url.credentials, !head.headers.contains(name: "Authorization") {
            head.headers.add(name: "Authorization", value: "Basic " + Data(credentials.utf8).base64EncodedString())
        }
        head.headers.replaceOrAdd(name: "Content-Length", value: "\(body.count)")
        let bytes = ByteBuffer(bytes: body)
        if let kept = takeIdle() {
            do {
                return try await exchange(on: kept, head: head, body: bytes, deadline: deadline, keepBodyBytes: keepBodyBytes)
            } catch .closed(beforeAnyResponse: true) {
                // The server let the kept connection go as we used it: once more on a new one.
            }
        }
        let channel = try await connect(deadline: deadline)
        return try await exchange(on: channel, head: head, body: bytes, deadline: deadline, keepBodyBytes: keepBodyBytes)
    }

    /// Closes the kept connection; later requests fail with `.shutDown`.
    public func shutdown() async {
        let idle = state.withLock { state in
            state.shutDown = true
            defer { state.idle = nil }
            return state.idle?.channel
        }
        try? await idle?.close()
    }

    private func exchange(on channel: any Channel, head: HTTPRequestHead, body: ByteBuffer, deadline: NIODeadline,
                          keepBodyBytes: Int) async throws(HTTPClientError) -> HTTPClientResponse {
        let promise = channel.eventLoop.makePromise(of: HTTPExchangeResult.self)
        let exchange = HTTPExchange(head: head, body: body, deadline: deadline, keepBodyBytes: keepBodyBytes, promise: promise)
        // A connection that closed before the request reached the handler never completes it there.
        channel.writeAndFlush(exchange).whenFailure { _ in promise.fail(HTTPClientError.closed(beforeAnyResponse: true)) }
        let result: HTTPExchangeResult
        do {
            result = try await promise.futureResult.get()
        } catch let error as HTTPClientError {
            throw error
        } catch {
            throw .io("\(error)")
        }
        if result.reusable { keep(channel) } else { channel.close(promise: nil) }
        return result.response
    }

    private func connect(deadline: NIODeadline) async throws(HTTPClientError) -> any Channel {
        if state.withLock({ $0.shutDown }) { throw .shutDown }
        let remaining = deadline - .now()
        guard remaining > .zero else { throw .timeout }
        let tls = tls, host = url.host
        // The TCP connect and the TLS handshake each get the connect timeout, within the deadline.
        let limit = min(connectTimeout, remaining)
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(limit)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
        do {
            // Connected means ready for requests: with TLS, after the handshake, so a refused
            // certificate is the connection's failure, whatever happens to the request after it.
            let (channel, ready) = try await bootstrap.connect(host: url.host, port: url.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handlers = channel.pipeline.syncOperations
                    if let tls { try handlers.addHandler(TLSHandler(client: tls, host: host, handshakeTimeout: limit)) }
                    try handlers.addHTTPClientHandlers()
                    let ready = channel.eventLoop.makePromise(of: Void.self)
                    try handlers.addHandler(HTTPExchangeHandler(ready: ready, waitsForTLS: tls != nil))
                    return (channel, ready.futureResult)
                }
            }
            do {
                try await ready.get()
            } catch {
                channel.close(promise: nil)
                throw error
            }
            return channel
        } catch let error as HTTPClientError {
            throw error
        } catch ChannelError.connectTimeout {
            throw .connectTimeout
        } catch let error as NIOConnectionError {
            throw .cannotConnect(Self.describe(error))
        } catch {
            throw .cannotConnect("\(error)")
        }
    }

    /// NIO's connection error lists every address tried; an operator wants the first reason.
    static func describe(_ error: NIOConnectionError) -> String {
        if let resolution = error.dnsAError ?? error.dnsAAAAError, error.connectionErrors.isEmpty {
            return "cannot resolve \(error.host) (\(resolution))"
        }
        guard let first = error.connectionErrors.first else { return "\(error.host): no address to connect to" }
        if let io = first.error as? IOError {
            switch io.errnoCode {
            case ECONNREFUSED: return "connection refused by \(first.target)"
            case ENETUNREACH, EHOSTUNREACH: return "\(first.target) is unreachable"
            default: return "\(first.target): \(io)"
            }
        }
        return "\(first.target): \(first.error)"
    }

    private func takeIdle() -> (any Channel)? {
        let (channel, stale) = state.withLock { state -> ((any Channel)?, (any Channel)?) in
            guard let idle = state.idle else { return (nil, nil) }
            state.idle = nil
            if idle.channel.isActive, NIODeadline.now() - idle.since < idleTimeout { return (idle.channel, nil) }
            return (nil, idle.channel)
        }
        stale?.close(promise: nil)
        return channel
    }

    private func keep(_ channel: any Channel) {
        let extra = state.withLock { state -> (any Channel)? in
            guard !state.shutDown, state.idle == nil else { return channel }
            state.idle = (channel, .now())
            return nil
        }
        extra?.close(promise: nil)
    }
}
