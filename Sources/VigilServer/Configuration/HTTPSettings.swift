import FoundationEssentials
import VigilConfig
import VigilCore
import VigilLive

/// The `http:` section: the HTTPS listener that serves the console, the APIs and /metrics.
public struct HTTPSettings: Sendable {
    public enum TLS: Sendable, Equatable {
        /// Generate (once) and reuse a self-signed certificate in `data_dir/tls/`.
        case selfSigned
        case files(certificate: String, key: String)
        /// Plain HTTP: only behind a TLS-terminating reverse proxy.
        case off
    }

    public var host: String
    public var port: Int
    public var listenLocation: ConfigLocation?
    public var tls: TLS
    /// Origins allowed to open the live WebSocket; empty means the gateway's own origin only.
    public var allowedOrigins: [String]
    public var ws: LiveSettings
    /// `/diagnostics/echo`: a WebSocket echo endpoint without Origin check or login, for the
    /// Autobahn conformance suite. Off means absent (404).
    public var diagnosticsEcho: Bool
    /// A connection must have sent a complete request head (after TLS) this soon (slowloris).
    public var handshakeTimeout: Duration = .seconds(10)
    /// An idle HTTP keep-alive connection is closed after this long.
    public var idleTimeout: Duration = .seconds(120)
    /// A request body must be complete this soon after its head (408 otherwise).
    public var requestTimeout: Duration = .seconds(30)
    /// The longest request line (414 beyond), request head (431) and request body (413).
    public var maxURLBytes = 8 * 1024
    public var maxHeaderBytes = 32 * 1024
    public var maxBodyBytes = 1 << 20
    /// The labels that make the console's navigation tree, outermost first.
    public var consoleTree = ["site", "device"]

    public var listenDescription: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    static func decode(_ object: ConfigObject) throws(ConfigError) -> HTTPSettings {
        let listen = try object.value("listen", expected: "HOST:PORT such as 0.0.0.0:8443 or [::1]:8443",
                                      ConfigValues.parseHostPort) ?? ("0.0.0.0", 8443)
        let tls = try decodeTLS(object)
        if tls == .off {
            object.warn("http.tls is off: serve Vigil only behind a reverse proxy that terminates TLS",
                        at: object.location(of: "tls"))
        }
        var origins: [String] = []
        for origin in try object.stringList("allowed_origins", default: []) {
            guard let normalized = normalizeOrigin(origin) else {
                throw ConfigError("http.allowed_origins: '\(origin)' is not an origin (scheme://host[:port], no path)",
                                  at: object.location(of: "allowed_origins"))
            }
            origins.append(normalized)
        }
        let handshakeTimeout = try object.duration("handshake_timeout", default: .seconds(10))
        let idleTimeout = try object.duration("idle_timeout", default: .seconds(120))
        guard handshakeTimeout >= .milliseconds(100), idleTimeout >= .milliseconds(100) else {
            throw ConfigError("http.handshake_timeout and http.idle_timeout: must be at least 100ms",
                              at: object.location(of: handshakeTimeout < .milliseconds(100) ? "handshake_timeout" : "idle_timeout"))
        }
        let ws = try object.object("ws").map { wsObject throws(ConfigError) in try LiveSettings.decode(wsObject) } ?? LiveSettings()
        var settings = HTTPSettings(host: listen.host, port: listen.port, listenLocation: object.location(of: "listen"),
                                    tls: tls, allowedOrigins: origins, ws: ws,
                                    diagnosticsEcho: try object.bool("diagnostics_echo", default: false))
        settings.handshakeTimeout = handshakeTimeout
        settings.idleTimeout = idleTimeout
        settings.requestTimeout = try object.duration("request_timeout", default: settings.requestTimeout)
        guard settings.requestTimeout >= .milliseconds(100) else {
            throw ConfigError("http.request_timeout: must be at least 100ms", at: object.location(of: "request_timeout"))
        }
        for (key, keyPath, range) in [("max_url", \HTTPSettings.maxURLBytes, (256...1 << 20)),
                                      ("max_header", \.maxHeaderBytes, (1024...1 << 20)),
                                      ("max_body", \.maxBodyBytes, (1024...64 << 20))] as [(String, WritableKeyPath<HTTPSettings, Int>, ClosedRange<Int>)] {
            guard let bytes = try object.byteSize(key) else { continue }
            guard range.contains(Int(clamping: bytes)) else {
                throw ConfigError("http.\(key): must be between \(range.lowerBound) bytes and \(range.upperBound >> 10)KiB",
                                  at: object.location(of: key))
            }
            settings[keyPath: keyPath] = Int(bytes)
        }
        settings.consoleTree = try object.stringList("console_tree", default: settings.consoleTree)
        let tree = settings.consoleTree
        guard (1...4).contains(tree.count), Set(tree).count == tree.count,
              tree.allSatisfy({ NameRules.isValidLabelName($0) && $0 != "__name__" }) else {
            throw ConfigError("http.console_tree: one to four distinct label names (such as [site, device])",
                              at: object.location(of: "console_tree"))
        }
        try object.finish()
        return settings
    }

    private static func decodeTLS(_ object: ConfigObject) throws(ConfigError) -> TLS {
        guard let node = object.node("tls") else { return .selfSigned }
        switch node.kind {
        case .scalar(let word):
            switch word {
            case "self-signed": return .selfSigned
            case "off", "false": return .off
            default:
                throw ConfigError("http.tls: expected self-signed, off, or a mapping with cert and key, found '\(word)'",
                                  at: node.location)
            }
        case .mapping:
            let tls = try ConfigObject(node, path: "http.tls", diagnostics: object.diagnostics)
            let certificate = try tls.requiredString("cert")
            let key = try tls.requiredString("key")
            for (name, path) in [("cert", certificate), ("key", key)] {
                guard FileManager.default.isReadableFile(atPath: path) else {
                    let reason = FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file"
                    throw ConfigError("http.tls.\(name): cannot read \(path): \(reason)", at: tls.location(of: name))
                }
            }
            try tls.finish()
            return .files(certificate: certificate, key: key)
        default:
            throw ConfigError("http.tls: expected self-signed, off, or a mapping with cert and key", at: node.location)
        }
    }

    /// `https://Console.Example:443/` → `https://console.example`; nil when not an origin.
    static func normalizeOrigin(_ text: String) -> String? {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
              scheme == "https" || scheme == "http", let host = components.host?.lowercased(), !host.isEmpty,
              components.path.isEmpty || components.path == "/", components.query == nil, components.user == nil
        else { return nil }
        let defaultPort = scheme == "https" ? 443 : 80
        let portPart = components.port.map { $0 == defaultPort ? "" : ":\($0)" } ?? ""
        let hostPart = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        return "\(scheme)://\(hostPart)\(portPart)"
    }
}
