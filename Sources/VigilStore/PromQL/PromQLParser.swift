import VigilCore

/// Parses the PromQL subset. Anything outside it is an error that names the unsupported part,
/// so a dashboard author sees what to change: `offset is not supported`, `function
/// histogram_quantile is not supported (supported: …)`.
public struct PromQLParser {
    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    let text: [Character]
    var index = 0
    /// Nesting so far: deep nesting from a hostile query must end in an error, not a stack overflow.
    var depth = 0
    static let maxDepth = 64
    static let maxLength = 16 * 1024

    public static func parse(_ query: String) throws(ParseError) -> PromQLExpr {
        guard query.utf8.count <= maxLength else { throw ParseError(description: "the query is longer than \(maxLength) bytes") }
        var parser = PromQLParser(text: Array(query), index: 0)
        let expr = try parser.expression(minimumPrecedence: 0)
        parser.skipSpaces()
        guard parser.index == parser.text.count else { throw parser.error("unexpected \"\(parser.rest(12))\"") }
        return expr
    }

    // Precedence climbing, as PromQL: comparisons < +,- < *,/,% < ^ (right-associative).
    static func precedence(_ op: PromQLExpr.BinaryOperator) -> Int {
        switch op {
        case .eq, .ne, .gt, .lt, .ge, .le: 1
        case .add, .sub: 2
        case .mul, .div, .mod: 3
        case .pow: 4
        }
    }

    mutating func expression(minimumPrecedence: Int) throws(ParseError) -> PromQLExpr {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maxDepth else { throw error("the query nests deeper than \(Self.maxDepth) levels") }
        var left = try unary()
        while true {
            skipSpaces()
            if let word = peekWord(), ["and", "or", "unless"].contains(word) {
                throw error("the set operator '\(word)' is not supported")
            }
            guard let op = peekOperator(), Self.precedence(op) >= minimumPrecedence else { return left }
            index += op.rawValue.count
            skipSpaces()
            var returnBool = false
            if peekWord() == "bool" {
                guard op.isComparison else { throw error("bool is only allowed after a comparison") }
                index += 4
                returnBool = true
            }
            if let word = peekWord(), ["on", "ignoring", "group_left", "group_right"].contains(word) {
                throw error("vector matching ('\(word)') is not supported")
            }
            let next = op == .pow ? Self.precedence(op) : Self.precedence(op) + 1
            let right = try expression(minimumPrecedence: next)
            left = .binary(op, left, right, returnBool: returnBool)
        }
    }

    mutating func unary() throws(ParseError) -> PromQLExpr {
        skipSpaces()
        if peek == "-" || peek == "+" {
            depth += 1
            defer { depth -= 1 }
            guard depth <= Self.maxDepth else { throw error("the query nests deeper than \(Self.maxDepth) levels") }
            let negative = peek == "-"
            index += 1
            let operand = try unary()
            return negative ? .negate(operand) : operand
        }
        return try postfix(try primary())
    }

    /// `[range]` after a selector; `offset` and `@` are refused by name.
    mutating func postfix(_ expr: PromQLExpr) throws(ParseError) -> PromQLExpr {
        skipSpaces()
        var result = expr
        if peek == "[" {
            guard case .vector(let selector) = expr else { throw error("a range [..] needs a series selector before it (subqueries are not supported)") }
            index += 1
            let start = index
            while let c = peek, c != "]" { index += 1 }
            guard peek == "]" else { throw error("unclosed '['") }
            let duration = String(text[start..<index]).trimmingSpaces()
            index += 1
            if duration.contains(":") { throw error("subqueries ([range:step]) are not supported") }
            guard let ms = Self.duration(duration), ms > 0 else { throw error("bad range duration \"\(duration)\"") }
            result = .matrix(selector, rangeMs: ms)
            skipSpaces()
        }
        if peekWord() == "offset" { throw error("offset is not supported") }
        if peek == "@" { throw error("the @ modifier is not supported") }
        return result
    }

    mutating func primary() throws(ParseError) -> PromQLExpr {
        skipSpaces()
        guard let c = peek else { throw error("unexpected end of query") }
        if c == "(" {
            index += 1
            let inner = try expression(minimumPrecedence: 0)
            skipSpaces()
            guard peek == ")" else { throw error("expected ')'") }
            index += 1
            return inner
        }
        if c.isNumber || c == "." { return .number(try number()) }
        if c == "{" { return .vector(try selector(name: "")) }
        if c == "\"" || c == "'" { throw error("string literals are not supported") }
        guard c.isLetter || c == "_" || c == ":" else { throw error("unexpected \"\(rest(12))\"") }
        let name = identifier()
        let lower = name.lowercased()
        if lower == "inf" || lower == "nan" { return .number(lower == "inf" ? .infinity : .nan) }
        skipSpaces()
        if PromQLExpr.aggregations.contains(name) {
            return try aggregation(name)
        }
        if peek == "(" {
            guard PromQLExpr.rangeFunctions.contains(name) || PromQLExpr.instantFunctions.contains(name) else {
                if ["topk", "bottomk", "quantile", "stddev", "stdvar", "count_values", "group"].contains(name) {
                    throw error("aggregation \(name) is not supported (supported: \(PromQLExpr.aggregations.sorted().joined(separator: ", ")))")
                }
                throw error("function \(name) is not supported (supported: "
                            + (PromQLExpr.rangeFunctions.union(PromQLExpr.instantFunctions)).sorted().joined(separator: ", ") + ")")
            }
            index += 1
            let argument = try expression(minimumPrecedence: 0)
            skipSpaces()
            if peek == "," { throw error("function \(name) takes one argument here") }
            guard peek == ")" else { throw error("expected ')' after the argument of \(name)") }
            index += 1
            if PromQLExpr.rangeFunctions.contains(name) {
                guard case .matrix = argument else { throw error("\(name) needs a range vector, e.g. \(name)(metric[5m])") }
            } else if case .matrix = argument {
                throw error("\(name) needs an instant vector, not a range")
            }
            return .call(name, argument)
        }
        return .vector(try selector(name: name))
    }

    mutating func aggregation(_ name: String) throws(ParseError) -> PromQLExpr {
        var grouping: [String] = []
        var without = false
        var hasGrouping = false
        func parseGrouping(_ parser: inout PromQLParser) throws(ParseError) {
            guard let word = parser.peekWord(), word == "by" || word == "without" else { return }
            parser.index += word.count
            without = word == "without"
            hasGrouping = true
            parser.skipSpaces()
            guard parser.peek == "(" else { throw parser.error("expected '(' after \(word)") }
            parser.index += 1
            while true {
                parser.skipSpaces()
                if parser.peek == ")" { parser.index += 1; break }
                let label = parser.identifier()
                guard !label.isEmpty else { throw parser.error("expected a label name in \(word)(…)") }
                grouping.append(label)
                parser.skipSpaces()
                if parser.peek == "," { parser.index += 1 }
            }
            parser.skipSpaces()
        }
        try parseGrouping(&self)
        guard peek == "(" else { throw error("expected '(' after \(name)") }
        index += 1
        let inner = try expression(minimumPrecedence: 0)
        skipSpaces()
        if peek == "," { throw error("\(name) takes one argument") }
        guard peek == ")" else { throw error("expected ')' after the argument of \(name)") }
        index += 1
        skipSpaces()
        if !hasGrouping { try parseGrouping(&self) }
        if case .matrix = inner { throw error("\(name) needs an instant vector, not a range (use \(name)_over_time… or rate first)") }
        return .aggregate(name, grouping: grouping, without: without, inner)
    }

    /// A selector `name{…}` (or `{…}`) handed to the store's selector parser.
    mutating func selector(name: String) throws(ParseError) -> SeriesSelector {
        var source = name
        skipSpaces()
        if peek == "{" {
            let start = index
            var quote: Character?
            while let c = peek {
                index += 1
                if let q = quote {
                    if c == "\\" { index += 1 } else if c == q { quote = nil }
                } else if c == "\"" || c == "'" || c == "`" {
                    quote = c
                } else if c == "}" {
                    break
                }
            }
            source += String(text[start..<index]).replacing("'", with: "\"")
        }
        do { return try SeriesSelector.parse(source) } catch { throw self.error("\(error)") }
    }

    mutating func number() throws(ParseError) -> Double {
        let start = index
        while let c = peek, c.isNumber || c == "." || c == "e" || c == "E" || c == "x" || c.isHexDigit
                || ((c == "+" || c == "-") && index > start && (text[index - 1] == "e" || text[index - 1] == "E")) { index += 1 }
        let literal = String(text[start..<index])
        if let value = Double(literal) { return value }
        if literal.hasPrefix("0x"), let value = Int64(literal.dropFirst(2), radix: 16) { return Double(value) }
        if let ms = Self.duration(literal) { return Double(ms) / 1000 }
        throw error("bad number \"\(literal)\"")
    }

    /// The longest range or offset a query may name: 100 years (the times it is subtracted from
    /// stay far from Int64's ends).
    static let maxDurationMs: Int64 = 100 * 366 * 86_400_000

    /// `5m`, `1h30m`, `90s`, `500ms`, `2d`, `1w`, `1y` → milliseconds; nil past 100 years.
    static func duration(_ text: String) -> Int64? {
        var total: Int64 = 0
        var digits = ""
        var chars = Array(text)
        var i = 0
        guard !chars.isEmpty else { return nil }
        while i < chars.count {
            let c = chars[i]
            if c.isNumber { digits.append(c); i += 1; continue }
            guard let amount = Int64(digits) else { return nil }
            digits = ""
            var unit = String(c)
            if c == "m", i + 1 < chars.count, chars[i + 1] == "s" { unit = "ms"; i += 1 }
            i += 1
            let scale: Int64 = switch unit {
            case "ms": 1
            case "s": 1000
            case "m": 60_000
            case "h": 3_600_000
            case "d": 86_400_000
            case "w": 604_800_000
            case "y": 31_536_000_000
            default: -1
            }
            guard scale > 0, let part = Checked.multiply(amount, scale), let sum = Checked.add(total, part),
                  sum <= maxDurationMs else { return nil }
            total = sum
        }
        chars.removeAll()
        return digits.isEmpty ? total : nil
    }

    var peek: Character? { index < text.count ? text[index] : nil }

    mutating func skipSpaces() {
        while let c = peek {
            if c == "#" { while let d = peek, d != "\n" { index += 1 }; continue }  // comments
            guard c.isWhitespace else { return }
            index += 1
        }
    }

    func peekWord() -> String? {
        var i = index
        var word = ""
        while i < text.count, text[i].isLetter || text[i] == "_" { word.append(text[i]); i += 1 }
        return word.isEmpty ? nil : word
    }

    func peekOperator() -> PromQLExpr.BinaryOperator? {
        for candidate in ["==", "!=", ">=", "<=", "+", "-", "*", "/", "%", "^", ">", "<"] {
            let chars = Array(candidate)
            if index + chars.count <= text.count, Array(text[index..<index + chars.count]) == chars {
                return PromQLExpr.BinaryOperator(rawValue: candidate)
            }
        }
        return nil
    }

    mutating func identifier() -> String {
        var out = ""
        while let c = peek, c.isLetter || c.isNumber || c == "_" || c == ":" { out.append(c); index += 1 }
        return out
    }

    func rest(_ count: Int) -> String { String(text[index..<min(text.count, index + count)]) }

    func error(_ message: String) -> ParseError { ParseError(description: "parse error at character \(index + 1): \(message)") }
}

import FoundationEssentials
