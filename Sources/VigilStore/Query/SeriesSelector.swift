import VigilCore

/// A Prometheus series selector: `temperature{site="a",device=~"boiler-.*"}`, `{__name__=~"temp.*"}`.
/// Regular expressions are fully anchored, as in Prometheus; a matcher for an empty value also
/// matches series that lack the label.
public struct SeriesSelector: Sendable, CustomStringConvertible {
    public enum Operator: String, Sendable {
        case equal = "=", notEqual = "!=", matches = "=~", notMatches = "!~"
    }

    public struct Matcher: Sendable {
        public let name: String
        public let op: Operator
        public let value: String
        /// Anchored at both ends, as in Prometheus, and matched in linear time (a selector comes
        /// from any API user).
        let regex: LinearRegex?

        public init(_ name: String, _ op: Operator, _ value: String) throws(StoreError) {
            self.name = name
            self.op = op
            self.value = value
            if op == .matches || op == .notMatches {
                do {
                    regex = try LinearRegex(value)
                } catch {
                    throw .invalidSelector("bad regular expression \"\(value)\": \(error)")
                }
            } else {
                regex = nil
            }
        }

        public func matches(_ labelValue: String?) -> Bool {
            let actual = labelValue ?? ""
            switch op {
            case .equal: return actual == value
            case .notEqual: return actual != value
            case .matches: return regex!.matches(actual)
            case .notMatches: return !regex!.matches(actual)
            }
        }
    }

    public let matchers: [Matcher]

    public init(matchers: [Matcher]) { self.matchers = matchers }

    /// Every series (no matchers).
    public static let all = SeriesSelector(matchers: [])

    public func matches(_ key: SeriesKey) -> Bool {
        matchers.allSatisfy { $0.matches($0.name == "__name__" ? key.metric : key.labels[$0.name]) }
    }

    public var description: String {
        let parts = matchers.map { "\($0.name)\($0.op.rawValue)\"\(Labels.escape($0.value))\"" }
        return "{\(parts.joined(separator: ","))}"
    }

    public static func parse(_ text: String) throws(StoreError) -> SeriesSelector {
        var parser = SelectorParser(text: Array(text.unicodeScalars))
        return try parser.parse()
    }
}

private struct SelectorParser {
    let text: [Unicode.Scalar]
    var index = 0

    mutating func parse() throws(StoreError) -> SeriesSelector {
        skipSpaces()
        var matchers: [SeriesSelector.Matcher] = []
        let name = identifier(allowColon: true)
        if !name.isEmpty { matchers.append(try .init("__name__", .equal, name)) }
        skipSpaces()
        if peek == "{" {
            index += 1
            skipSpaces()
            while peek != "}" {
                let label = identifier(allowColon: false)
                guard !label.isEmpty else { throw error("expected a label name") }
                skipSpaces()
                let op = try parseOperator()
                skipSpaces()
                let value = try quoted()
                matchers.append(try .init(label, op, value))
                skipSpaces()
                if peek == "," {
                    index += 1
                    skipSpaces()
                } else if peek != "}" {
                    throw error("expected ',' or '}'")
                }
            }
            index += 1
        }
        skipSpaces()
        guard index == text.count else { throw error("unexpected text") }
        guard !matchers.isEmpty else { throw .invalidSelector("empty selector: give a metric name or {label=\"value\"}") }
        guard matchers.contains(where: { !$0.matches(nil) }) else {
            throw .invalidSelector("the selector must contain a matcher that does not match the empty string")
        }
        return SeriesSelector(matchers: matchers)
    }

    var peek: Unicode.Scalar? { index < text.count ? text[index] : nil }

    mutating func skipSpaces() { while let c = peek, c == " " || c == "\t" || c == "\n" { index += 1 } }

    mutating func identifier(allowColon: Bool) -> String {
        var out = String.UnicodeScalarView()
        while let c = peek, c == "_" || ("a"..."z").contains(c) || ("A"..."Z").contains(c)
            || (!out.isEmpty && ("0"..."9").contains(c)) || (allowColon && c == ":") {
            out.append(c)
            index += 1
        }
        return String(out)
    }

    mutating func parseOperator() throws(StoreError) -> SeriesSelector.Operator {
        let two = index + 1 < text.count ? String(String.UnicodeScalarView([text[index], text[index + 1]])) : ""
        for op in [SeriesSelector.Operator.matches, .notMatches, .notEqual] where two == op.rawValue {
            index += 2
            return op
        }
        if peek == "=" {
            index += 1
            return .equal
        }
        throw error("expected =, !=, =~ or !~")
    }

    mutating func quoted() throws(StoreError) -> String {
        guard let quote = peek, quote == "\"" || quote == "'" || quote == "`" else { throw error("expected a quoted value") }
        index += 1
        var out = String.UnicodeScalarView()
        while let c = peek, c != quote {
            index += 1
            if c == "\\", quote != "`", let escaped = peek {
                index += 1
                switch escaped {
                case "n": out.append("\n")
                case "t": out.append("\t")
                default: out.append(escaped)
                }
            } else {
                out.append(c)
            }
        }
        guard peek == quote else { throw error("unterminated string") }
        index += 1
        return String(out)
    }

    func error(_ message: String) -> StoreError {
        .invalidSelector("\(message) at position \(index + 1) of \"\(String(String.UnicodeScalarView(text)))\"")
    }
}
