import VigilConfig
import VigilCore
import VigilStore

/// The `alerts:` section: rules, notifiers, routes and the engine's timing. Rules may also come from
/// included files (lists from several files are joined).
public struct AlertsConfig: Sendable {
    public var rules: [AlertRule]
    public var notifiers: [NotifierConfig]
    public var routes: [AlertRoute]
    /// How often stale rules, `for`, `keep_firing_for` and repeats are checked between readings.
    public var evaluationInterval: Duration
    /// How long a resolved alert stays listed (API and console) before it is forgotten.
    public var resolvedRetention: Duration
    /// Base URL for links in notifications (Alertmanager's generatorURL); nil derives it from http.listen.
    public var externalURL: String?
    /// The gateway's own alerts (source offline, rejects, disk, outbox, dropped live clients).
    public var selfAlerts: Bool

    public static let empty = AlertsConfig(rules: [], notifiers: [], routes: [], evaluationInterval: .seconds(5),
                                           resolvedRetention: .seconds(3600), externalURL: nil, selfAlerts: true)

    /// The rules that run: the built-in self-alerts (unless off, and unless a config rule has the
    /// same name, which replaces it) followed by the config's rules.
    public var effectiveRules: [AlertRule] {
        guard selfAlerts else { return rules }
        let names = Set(rules.map(\.name))
        return SelfAlertRules.all.filter { !names.contains($0.name) } + rules
    }

    /// The routes in force: the configured ones, or one route to every notifier when none are written.
    public var effectiveRoutes: [AlertRoute] {
        if !routes.isEmpty { return routes }
        return [AlertRoute(severities: [], rules: [], notifiers: notifiers.map(\.name), repeatInterval: .seconds(4 * 3600))]
    }

    public static func decode(_ section: ConfigObject, brokers: [String]) throws(ConfigError) -> AlertsConfig {
        var config = AlertsConfig.empty
        config.evaluationInterval = try section.duration("evaluation_interval", default: .seconds(5))
        if config.evaluationInterval < .milliseconds(100) {
            throw ConfigError("alerts.evaluation_interval must be at least 100ms", at: section.location(of: "evaluation_interval"))
        }
        config.resolvedRetention = try section.duration("resolved_retention", default: .seconds(3600))
        config.externalURL = try section.optionalString("external_url")
        config.selfAlerts = try section.bool("self_alerts", default: true)

        config.notifiers = try section.namedObjects("notifiers", what: "a notifier", name: \.name) { object throws(ConfigError) in
            try decodeNotifier(object, brokers: brokers)
        }
        let notifierNames = config.notifiers.map(\.name)
        let routeObjects = try section.objects("routes")
        for object in routeObjects {
            config.routes.append(try decodeRoute(object, notifiers: notifierNames))
        }
        var seen: [String: String] = [:]
        for object in try section.objects("rules") {
            let rule = try RuleDecoder.decode(object)
            if let first = seen[rule.name] {
                throw ConfigError("\(object.path): a rule named '\(rule.name)' is already defined at \(first)", at: object.location(of: "name"))
            }
            seen[rule.name] = rule.origin ?? object.path
            config.rules.append(rule)
        }
        let ruleNames = Set(config.rules.map(\.name) + SelfAlertRules.all.map(\.name))
        for (route, object) in zip(config.routes, routeObjects) {
            for name in route.rules where !ruleNames.contains(name) {
                object.warn("\(object.path).rules: no rule named '\(name)'", at: object.location(of: "rules"))
            }
        }
        try section.finish()
        return config
    }

    static func decodeNotifier(_ object: ConfigObject, brokers: [String]) throws(ConfigError) -> NotifierConfig {
        let name = try object.requiredString("name")
        let type = try object.choice("type", from: ["webhook", "alertmanager", "mqtt"], default: "")
        let timeout = try object.duration("timeout", default: .seconds(10))
        let retryInitial = try object.duration("retry_initial", default: .seconds(1))
        let retryMax = try object.duration("retry_max", default: .seconds(300))
        guard retryInitial > .zero, retryMax >= retryInitial else {
            throw ConfigError("\(object.path): retry_initial must be above 0 and at most retry_max", at: object.location(of: "retry_initial"))
        }
        let kind: NotifierConfig.Kind
        switch type {
        case "webhook":
            kind = .webhook(.init(
                url: try httpURL(object, "url"),
                secret: try object.optionalString("secret").flatMap { $0.isEmpty ? nil : Secret($0) },
                headers: try headers(object),
                caFile: try object.optionalString("ca_file"),
                insecureSkipVerify: try object.bool("insecure_skip_verify", default: false)))
        case "alertmanager":
            kind = .alertmanager(.init(
                url: try httpURL(object, "url"),
                resendInterval: try object.duration("resend_interval", default: .seconds(60)),
                headers: try headers(object),
                caFile: try object.optionalString("ca_file"),
                insecureSkipVerify: try object.bool("insecure_skip_verify", default: false)))
        case "mqtt":
            let broker = try object.requiredString("broker")
            guard brokers.contains(broker) else {
                let known = brokers.isEmpty ? "none are configured" : "known: \(brokers.joined(separator: ", "))"
                throw ConfigError("\(object.path).broker: no MQTT broker named '\(broker)' under mqtt.brokers (\(known))",
                                  at: object.location(of: "broker"))
            }
            let topicText = try object.string("topic", default: "vigil/alerts/{{ $rule }}")
            let topic: AnnotationTemplate
            do { topic = try AnnotationTemplate(topicText) } catch {
                throw ConfigError("\(object.path).topic: \(error)", at: object.location(of: "topic"))
            }
            kind = .mqtt(.init(broker: broker, topic: topic, qos: try object.int("qos", default: 1, in: 0...2),
                               retain: try object.bool("retain", default: false)))
        default:
            throw ConfigError("\(object.path).type: required (webhook, alertmanager or mqtt)", at: object.location(of: "type"))
        }
        try object.finish()
        return NotifierConfig(name: name, kind: kind, timeout: timeout, retryInitial: retryInitial, retryMax: retryMax)
    }

    static func httpURL(_ object: ConfigObject, _ key: String) throws(ConfigError) -> String {
        let url = try object.requiredString(key)
        guard url.hasPrefix("http://") || url.hasPrefix("https://"), url.count > 8 else {
            throw ConfigError("\(object.qualified(key)): expected an http:// or https:// URL, found \"\(url)\"", at: object.location(of: key))
        }
        return url
    }

    static func headers(_ object: ConfigObject) throws(ConfigError) -> [String: String] {
        var out: [String: String] = [:]
        for entry in try object.stringMap("headers") { out[entry.key] = entry.value }
        return out
    }

    static func decodeRoute(_ object: ConfigObject, notifiers: [String]) throws(ConfigError) -> AlertRoute {
        let targets = try object.stringList("notifiers", default: [])
        guard !targets.isEmpty else {
            throw ConfigError("\(object.path).notifiers: a route needs at least one notifier", at: object.location(of: "notifiers"))
        }
        for target in targets where !notifiers.contains(target) {
            let hint = Suggestions.closest(to: target, in: notifiers).map { " (did you mean '\($0)'?)" } ?? ""
            throw ConfigError("\(object.path).notifiers: no notifier named '\(target)'\(hint)", at: object.location(of: "notifiers"))
        }
        let route = AlertRoute(
            severities: try object.stringList("severity", default: []),
            rules: try object.stringList("rules", default: []),
            notifiers: targets,
            repeatInterval: try object.duration("repeat_interval", default: .seconds(4 * 3600)))
        try object.finish()
        return route
    }
}
