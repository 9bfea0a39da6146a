/// Maps topic levels to a metric name and labels:
///
///     pattern: sensors/{site}/{device}/{metric}
///
/// - `{name}` captures one level into label `name`; `{metric}` captures the metric name.
/// - `{name...}` captures all remaining levels (one or more), joined with `/` for a label and
///   with `_` for the metric (`{metric...}` on `a/b/c` gives `a_b_c`). Only as the last element.
/// - `{_}` or `+` skips one level; a literal must equal the topic level.
public struct TopicPattern: Sendable, CustomStringConvertible {
    enum Element: Sendable, Equatable {
        case literal(String)
        case capture(String)
        case rest(String)
        case skip
    }

    let elements: [Element]
    public let description: String

    public var capturesMetric: Bool {
        elements.contains { $0 == .capture("metric") || $0 == .rest("metric") }
    }

    public var captureNames: [String] {
        elements.compactMap {
            switch $0 {
            case .capture(let name), .rest(let name): name
            default: nil
            }
        }
    }

    public static func parse(_ text: String) -> Result<TopicPattern, TopicFilterError> {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        var elements: [Element] = []
        for (i, part) in parts.enumerated() {
            if part == "+" || part == "{_}" {
                elements.append(.skip)
            } else if part.hasPrefix("{"), part.hasSuffix("}") {
                var name = String(part.dropFirst().dropLast())
                let isRest = name.hasSuffix("...")
                if isRest {
                    name.removeLast(3)
                    guard i == parts.count - 1 else {
                        return .failure(.init("'{\(name)...}' must be the last level of the pattern"))
                    }
                }
                guard !name.isEmpty, name == "metric" || NameRules.isValidLabelName(name) else {
                    return .failure(.init("'\(part)' is not a valid capture: use a label name like {device}"))
                }
                if elements.contains(where: { $0 == .capture(name) || $0 == .rest(name) }) {
                    return .failure(.init("'{\(name)}' appears twice"))
                }
                elements.append(isRest ? .rest(name) : .capture(name))
            } else if part.contains("{") || part.contains("}") || part.contains("#") {
                return .failure(.init("'\(part)': a level is either literal text or one {capture}"))
            } else {
                elements.append(.literal(String(part)))
            }
        }
        return .success(TopicPattern(elements: elements, description: text))
    }

    public struct Match: Sendable, Equatable {
        public var metric: String?
        public var labels: [(String, String)]

        public static func == (a: Match, b: Match) -> Bool {
            a.metric == b.metric && a.labels.elementsEqual(b.labels, by: { $0 == $1 })
        }
    }

    /// The captures for `topic`, or nil when the topic does not have this shape.
    public func match(levels topic: [Substring]) -> Match? {
        var match = Match(metric: nil, labels: [])
        var i = 0
        for element in elements {
            switch element {
            case .rest(let name):
                guard i < topic.count else { return nil }
                let rest = topic[i...]
                let value = rest.joined(separator: name == "metric" ? "_" : "/")
                assign(name, value, to: &match)
                i = topic.count
            default:
                guard i < topic.count else { return nil }
                let level = topic[i]
                switch element {
                case .literal(let text): if level != text { return nil }
                case .capture(let name): assign(name, String(level), to: &match)
                default: break
                }
                i += 1
            }
        }
        return i == topic.count ? match : nil
    }

    private func assign(_ name: String, _ value: String, to match: inout Match) {
        if name == "metric" { match.metric = value } else { match.labels.append((name, value)) }
    }
}

import VigilCore
