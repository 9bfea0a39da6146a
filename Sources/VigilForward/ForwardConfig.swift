import FoundationEssentials
import VigilConfig
import VigilCore
import VigilStore

/// `forward:` — where the store's data goes beyond this box.
public struct ForwardConfig: Sendable {
    public var remoteWrite: [RemoteWriteConfig]

    public static func decode(_ section: ConfigObject, gatewayName: String) throws(ConfigError) -> ForwardConfig {
        let endpoints = try section.namedObjects("remote_write", what: "an endpoint", name: \.name) { object throws(ConfigError) in
            try RemoteWriteConfig.decode(object, gatewayName: gatewayName)
        }
        try section.finish()
        return ForwardConfig(remoteWrite: endpoints)
    }
}

/// One Prometheus remote-write endpoint (VictoriaMetrics, Prometheus, Mimir, Thanos receive, …).
public struct RemoteWriteConfig: Sendable {
    public enum Start: String, Sendable { case now, oldest }

    public var name: String
    public var url: String
    public var headers: [String: String]
    /// `Authorization` value (Basic or Bearer); never logged.
    public var authorization: String?
    public var caFile: String?
    public var insecureSkipVerify: Bool
    public var timeout: Duration
    public var batchSize: Int
    public var maxSamplesPerSecond: Int
    public var interval: Duration
    public var delay: Duration
    public var externalLabels: Labels
    public var match: [SeriesSelector]
    public var start: Start
    public var retryInitial: Duration
    public var retryMax: Duration

    public var sourceName: String { "forward/\(name)" }

    static func decode(_ object: ConfigObject, gatewayName: String) throws(ConfigError) -> RemoteWriteConfig {
        let name = try object.requiredString("name")
        let url = try object.requiredString("url")
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw ConfigError("\(object.qualified("url")): expected an http:// or https:// URL", at: object.location(of: "url"))
        }
        var headers: [String: String] = [:]
        for entry in try object.stringMap("headers") { headers[entry.key] = entry.value }
        var authorization: String?
        if let basic = try object.object("basic_auth") {
            let user = try basic.requiredString("username")
            let password = try basic.string("password", default: "")
            authorization = "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
            try basic.finish()
        }
        if let token = try object.optionalString("bearer_token") {
            guard authorization == nil else {
                throw ConfigError("\(object.path): basic_auth and bearer_token are exclusive", at: object.location(of: "bearer_token"))
            }
            authorization = "Bearer \(token)"
        }
        var external = Labels(["gateway": gatewayName])
        for entry in try object.stringMap("external_labels") {
            guard NameRules.isValidLabelName(entry.key) else {
                throw ConfigError("\(object.qualified("external_labels")).\(entry.key): not a valid label name", at: entry.location)
            }
            external[entry.key] = entry.value
        }
        var match: [SeriesSelector] = []
        for text in try object.stringList("match", default: [#"{__name__=~".+"}"#]) {
            do { match.append(try SeriesSelector.parse(text)) } catch {
                throw ConfigError("\(object.qualified("match")): \(error)", at: object.location(of: "match"))
            }
        }
        let config = RemoteWriteConfig(
            name: name, url: url, headers: headers, authorization: authorization,
            caFile: try object.optionalString("ca_file"),
            insecureSkipVerify: try object.bool("insecure_skip_verify", default: false),
            timeout: try object.duration("timeout", default: .seconds(30)),
            batchSize: try object.int("batch_size", default: 10_000, in: 1...1_000_000),
            maxSamplesPerSecond: try object.int("max_samples_per_second", default: 200_000, in: 1...100_000_000),
            interval: try object.duration("interval", default: .seconds(5)),
            delay: try object.duration("delay", default: .seconds(5)),
            externalLabels: external, match: match,
            start: Start(rawValue: try object.choice("start", from: ["now", "oldest"], default: "now")) ?? .now,
            retryInitial: try object.duration("retry_initial", default: .seconds(1)),
            retryMax: try object.duration("retry_max", default: .seconds(60)))
        guard config.interval > .zero, config.retryInitial > .zero, config.retryMax >= config.retryInitial else {
            throw ConfigError("\(object.path): interval and retry_initial must be above 0, retry_max at least retry_initial", at: object.location)
        }
        try object.finish()
        return config
    }
}
