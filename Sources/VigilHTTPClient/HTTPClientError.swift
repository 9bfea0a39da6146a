/// Why a request got no HTTP answer. Every case reads as the end of a log line after the URL.
public enum HTTPClientError: Error, CustomStringConvertible, Sendable, Equatable {
    case badURL(String)
    /// The TLS settings (CA file) could not be loaded.
    case tlsSettings(String)
    case cannotConnect(String)
    case connectTimeout
    case tls(String)
    /// The server closed the connection before its answer was complete.
    case closed(beforeAnyResponse: Bool)
    case timeout
    case io(String)
    case shutDown

    public var description: String {
        switch self {
        case .badURL(let why): "bad URL: \(why)"
        case .tlsSettings(let why): "TLS settings: \(why)"
        case .cannotConnect(let why): "cannot connect: \(why)"
        case .connectTimeout: "connect timed out"
        case .tls(let why): why
        case .closed(let beforeAny): beforeAny ? "the server closed the connection without answering" : "the server closed the connection in the middle of its answer"
        case .timeout: "timed out"
        case .io(let why): why
        case .shutDown: "the client is shut down"
        }
    }
}

/// An HTTP answer: its status and the first bytes of its body (for log lines).
public struct HTTPClientResponse: Sendable {
    public let status: Int
    public let body: [UInt8]

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}
