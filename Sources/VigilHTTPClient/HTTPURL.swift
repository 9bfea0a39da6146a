import FoundationEssentials
import VigilCore

/// An `http://` or `https://` URL split into what a request needs. Credentials in the URL
/// (`user:password@`) become `Authorization: Basic`, as curl and Prometheus do.
public struct HTTPURL: Sendable, Equatable, CustomStringConvertible {
    /// The URL as configured (log lines show it through `Secrets.redactedURL`).
    public let description: String
    public let secure: Bool
    /// The host as written, without brackets for IPv6.
    public let host: String
    public let port: Int
    /// Path and query, at least `/`; the fragment is dropped.
    public let target: String
    /// `user:password` from the URL, percent-decoded.
    public let credentials: String?

    public init(_ text: String) throws(HTTPClientError) {
        description = text
        guard let separator = text.firstRange(of: "://") else { throw .badURL("\(Secrets.redactedURL(text)): no scheme (http:// or https://)") }
        let scheme = text[..<separator.lowerBound].lowercased()
        switch scheme {
        case "http": secure = false
        case "https": secure = true
        default: throw .badURL("\(Secrets.redactedURL(text)): the scheme must be http or https, not \(scheme)")
        }
        var rest = text[separator.upperBound...]
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        let path = rest[authorityEnd...]
        target = path.isEmpty ? "/" : (path.first == "?" ? "/" + path : String(path))
        if let at = authority.lastIndex(of: "@") {
            guard let decoded = String(authority[..<at]).removingPercentEncoding() else {
                throw .badURL("\(Secrets.redactedURL(text)): bad percent-encoding in the credentials")
            }
            credentials = decoded
            authority = authority[authority.index(after: at)...]
        } else {
            credentials = nil
        }
        var portText: Substring?
        if authority.first == "[" {
            guard let close = authority.firstIndex(of: "]") else { throw .badURL("\(Secrets.redactedURL(text)): unclosed [ in the host") }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":" else { throw .badURL("\(Secrets.redactedURL(text)): unexpected text after the host") }
                portText = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            portText = authority[authority.index(after: colon)...]
        } else {
            host = String(authority)
        }
        guard !host.isEmpty else { throw .badURL("\(Secrets.redactedURL(text)): no host") }
        if let portText {
            guard let port = Int(portText), (1...65_535).contains(port) else {
                throw .badURL("\(Secrets.redactedURL(text)): the port must be a number from 1 to 65535")
            }
            self.port = port
        } else {
            port = secure ? 443 : 80
        }
    }

    /// The `Host` header: the port only when it is not the scheme's default.
    public var hostHeader: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == (secure ? 443 : 80) ? name : "\(name):\(port)"
    }
}
