import VigilConfig
import VigilCore
import VigilStore

/// Reads one entry of `alerts.rules`:
///
///     - name: BoilerHot
///       selector: 'temperature{device=~"boiler-.*"}'
///       threshold: "> 80"
///       clear: 75
///       for: 2m
///       severity: critical
///       annotations:
///         summary: "{{ $labels.device }} is at {{ $value }} {{ $unit }}"
///
/// Exactly one condition key: `threshold`, `outside`, `stale` (alias `absent`), `rate` or `delta`.
enum RuleDecoder {
    static let conditionKeys = ["threshold", "outside", "stale", "absent", "rate", "delta"]

    static func decode(_ object: ConfigObject) throws(ConfigError) -> AlertRule {
        let name = try object.requiredString("name")
        guard NameRules.isValidLabelName(name) else {
            throw ConfigError("\(object.path).name: '\(name)' is not a valid rule name (letters, digits and _, not starting with a digit)",
                              at: object.location(of: "name"))
        }
        let selectorText = try object.requiredString("selector")
        let selector: SeriesSelector
        do { selector = try SeriesSelector.parse(selectorText) } catch {
            throw ConfigError("\(object.path).selector: \(error)", at: (try? object.scalar("selector"))??.location)
        }
        let condition = try decodeCondition(object)
        let severity = try object.string("severity", default: "warning")
        var labels = Labels.empty
        for entry in try object.stringMap("labels") {
            guard NameRules.isValidLabelName(entry.key) else {
                throw ConfigError("\(object.path).labels: '\(entry.key)' is not a valid label name", at: entry.location)
            }
            labels[entry.key] = entry.value
        }
        var annotations: [(name: String, template: AnnotationTemplate)] = []
        for entry in try object.stringMap("annotations") {
            do { annotations.append((entry.key, try AnnotationTemplate(entry.value))) } catch {
                throw ConfigError("\(object.path).annotations.\(entry.key): \(error)", at: entry.location)
            }
        }
        let rule = AlertRule(
            name: name, selector: selector, condition: condition,
            pendingFor: try object.duration("for", default: .zero),
            keepFiringFor: try object.duration("keep_firing_for", default: .zero),
            severity: severity, labels: labels, annotations: annotations,
            origin: object.location.description)
        try object.finish()
        return rule
    }

    static func decodeCondition(_ object: ConfigObject) throws(ConfigError) -> AlertCondition {
        let present = conditionKeys.filter { object.has($0) }
        guard present.count == 1, let key = present.first else {
            let message = present.isEmpty
                ? "a rule needs one condition: threshold, outside, stale, rate or delta"
                : "a rule has one condition; found \(present.joined(separator: " and "))"
            throw ConfigError("\(object.path): \(message)", at: present.count > 1 ? object.location(of: present[1]) : object.location)
        }
        let clear: Double? = object.has("clear") ? try object.number("clear", default: 0) : nil
        switch key {
        case "threshold":
            let (op, value) = try comparison(object, key)
            try checkClear(clear, op: op, value: value, object)
            return .threshold(op, value, clear: clear)
        case "outside":
            guard let node = object.node("outside"), case .sequence(let items) = node.kind, items.count == 2,
                  case .scalar(let lowText) = items[0].kind, case .scalar(let highText) = items[1].kind,
                  let low = Double(lowText), let high = Double(highText), low <= high else {
                throw ConfigError("\(object.path).outside: expected [low, high] with low ≤ high, e.g. [10, 30]",
                                  at: object.location(of: "outside"))
            }
            if clear != nil { throw ConfigError("\(object.path).clear: not supported with 'outside'", at: object.location(of: "clear")) }
            return .outside(low: low, high: high)
        case "stale", "absent":
            let duration = try object.duration(key, default: .zero)
            guard duration > .zero else {
                throw ConfigError("\(object.path).\(key): expected a duration above 0, e.g. 5m", at: object.location(of: key))
            }
            if clear != nil { throw ConfigError("\(object.path).clear: not supported with '\(key)'", at: object.location(of: "clear")) }
            return .stale(duration)
        default: // rate, delta
            let (op, value) = try comparison(object, key)
            try checkClear(clear, op: op, value: value, object)
            let window = try object.duration("window", default: .seconds(300))
            guard window > .zero else {
                throw ConfigError("\(object.path).window: expected a duration above 0", at: object.location(of: "window"))
            }
            if key == "rate" {
                let per = try object.duration("per", default: .seconds(60))
                guard per > .zero else { throw ConfigError("\(object.path).per: expected a duration above 0", at: object.location(of: "per")) }
                return .change(.rate(per: per), window: window, op, value, clear: clear)
            }
            return .change(.delta, window: window, op, value, clear: clear)
        }
    }

    static func comparison(_ object: ConfigObject, _ key: String) throws(ConfigError) -> (Comparison, Double) {
        guard let (raw, location) = try object.scalar(key), let parsed = Comparison.parse(raw) else {
            throw ConfigError("\(object.qualified(key)): expected an operator and a number, e.g. \"> 80\" (operators: > >= < <= == !=)",
                              at: object.location(of: key))
        }
        _ = location
        return parsed
    }

    static func checkClear(_ clear: Double?, op: Comparison, value: Double, _ object: ConfigObject) throws(ConfigError) {
        guard let clear else { return }
        guard op.isOrdering else {
            throw ConfigError("\(object.path).clear: a clear threshold needs >, >=, < or <=", at: object.location(of: "clear"))
        }
        if op.isUpward ? clear > value : clear < value {
            let side = op.isUpward ? "at or below" : "at or above"
            throw ConfigError("\(object.path).clear: \(AlertCondition.format(clear)) must be \(side) the threshold \(AlertCondition.format(value))",
                              at: object.location(of: "clear"))
        }
    }
}
