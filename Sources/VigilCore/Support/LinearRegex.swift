/// A regular expression that must match a whole string, matched in time linear in the text
/// (compiled to an NFA and run as a set of states, the way RE2 and Go's regexp do, which
/// Prometheus's label matchers use). A hostile `(a+)+$` costs the same as `a+`: no input can make
/// a query or a config rule spin.
///
/// Syntax (RE2's, for what series selectors and name rules need): literals and escapes (`\.`,
/// `\n`, `\t`, `\x41`, `\x{263A}`), `.`, classes `[a-z_]`, `[^0-9]`, `\d \D \w \W \s \S`,
/// `[[:alpha:]]`-style POSIX classes inside brackets, groups `(…)`, `(?:…)`, `(?P<name>…)`,
/// alternation `|`, quantifiers `* + ? {n} {n,} {n,m}` (and their lazy forms, the same for a
/// whole match), flags `(?i)`, `(?s)` and `(?i:…)`, and `^`/`$` (the ends of the text). Back
/// references and look-around do not exist in RE2 either; `\b`, `\p{…}` are refused by name.
public struct LinearRegex: Sendable, CustomStringConvertible {
    public struct SyntaxError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Patterns longer than this, or compiling to more than `maxInstructions`, are refused.
    public static let maxPatternLength = 4096
    public static let maxInstructions = 20_000
    /// The largest count in `{n,m}`, as RE2.
    public static let maxRepeat = 1000

    public let pattern: String
    let program: [Instruction]

    public init(_ pattern: String) throws(SyntaxError) {
        guard pattern.utf8.count <= Self.maxPatternLength else {
            throw SyntaxError(description: "the regular expression is longer than \(Self.maxPatternLength) bytes")
        }
        self.pattern = pattern
        var parser = RegexParser(Array(pattern.unicodeScalars))
        let tree = try parser.parseWhole()
        var compiler = RegexCompiler()
        try compiler.emit(tree)
        compiler.program.append(.match)
        program = compiler.program
    }

    public var description: String { pattern }

    /// True when the pattern matches all of `text`.
    public func matches(_ text: String) -> Bool {
        var current = StateSet(capacity: program.count)
        var next = StateSet(capacity: program.count)
        let scalars = text.unicodeScalars
        var position = scalars.startIndex
        addState(0, to: &current, atStart: true, atEnd: position == scalars.endIndex)
        while position < scalars.endIndex {
            guard !current.isEmpty else { return false }
            let scalar = scalars[position]
            position = scalars.index(after: position)
            let atEnd = position == scalars.endIndex
            next.clear()
            for pc in current.members {
                if case .consume(let set) = program[pc], set.contains(scalar) {
                    addState(pc + 1, to: &next, atStart: false, atEnd: atEnd)
                }
            }
            swap(&current, &next)
        }
        return current.members.contains { if case .match = program[$0] { true } else { false } }
    }

    /// Adds `pc` and everything reachable from it without consuming a character.
    private func addState(_ pc: Int, to set: inout StateSet, atStart: Bool, atEnd: Bool) {
        var stack = [pc]
        while let pc = stack.popLast() {
            guard set.insert(pc) else { continue }
            switch program[pc] {
            case .split(let a, let b):
                stack.append(b)
                stack.append(a)
            case .jump(let target): stack.append(target)
            case .assertStart: if atStart { stack.append(pc + 1) }
            case .assertEnd: if atEnd { stack.append(pc + 1) }
            case .consume, .match: break
            }
        }
    }
}

enum Instruction: Sendable {
    case consume(ScalarSet)
    case split(Int, Int)
    case jump(Int)
    case assertStart
    case assertEnd
    case match
}

/// A set of scalars: ranges, possibly negated.
struct ScalarSet: Sendable {
    var ranges: [ClosedRange<UInt32>]
    var negated = false

    static let any = ScalarSet(ranges: [0...0x10FFFF])
    static let anyButNewline = ScalarSet(ranges: [0...9, 11...0x10FFFF])
    static let digits = ScalarSet(ranges: [48...57])
    static let word = ScalarSet(ranges: [48...57, 65...90, 95...95, 97...122])
    static let space = ScalarSet(ranges: [9...10, 12...13, 32...32])

    func contains(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        var found = false
        for range in ranges where range.contains(value) {
            found = true
            break
        }
        return found != negated
    }

    /// The same set, also holding the other case of every letter in it (for `(?i)`).
    func caseFolded() -> ScalarSet {
        var out = ranges
        for range in ranges where range.count <= 0x3000 {
            for value in range {
                guard let scalar = Unicode.Scalar(value) else { continue }
                for other in [scalar.properties.lowercaseMapping, scalar.properties.uppercaseMapping] {
                    let scalars = other.unicodeScalars
                    if scalars.count == 1, let folded = scalars.first, folded.value != value {
                        out.append(folded.value...folded.value)
                    }
                }
            }
        }
        return ScalarSet(ranges: out, negated: negated)
    }
}

/// Program counters, each at most once, in insertion order (a sparse set: clearing is O(1)).
struct StateSet {
    private var dense: [Int]
    private var sparse: [Int]
    private(set) var count = 0

    init(capacity: Int) {
        dense = [Int](repeating: 0, count: capacity)
        sparse = [Int](repeating: 0, count: capacity)
    }

    var isEmpty: Bool { count == 0 }
    var members: ArraySlice<Int> { dense[0..<count] }

    mutating func insert(_ pc: Int) -> Bool {
        let slot = sparse[pc]
        if slot < count, dense[slot] == pc { return false }
        sparse[pc] = count
        dense[count] = pc
        count += 1
        return true
    }

    mutating func clear() { count = 0 }
}

/// The parsed pattern.
indirect enum RegexNode {
    case empty
    case set(ScalarSet)
    case start, end
    case concat([RegexNode])
    case alternate([RegexNode])
    case repeated(RegexNode, min: Int, max: Int?)
}

private struct RegexParser {
    let text: [Unicode.Scalar]
    var index = 0
    var caseInsensitive = false
    var dotAll = false
    var depth = 0

    init(_ text: [Unicode.Scalar]) { self.text = text }

    var peek: Unicode.Scalar? { index < text.count ? text[index] : nil }

    func error(_ message: String) -> LinearRegex.SyntaxError {
        LinearRegex.SyntaxError(description: "\(message) at position \(index + 1)")
    }

    mutating func parseWhole() throws(LinearRegex.SyntaxError) -> RegexNode {
        let node = try parseAlternation()
        guard index == text.count else { throw error("unmatched ')'") }
        return node
    }

    mutating func parseAlternation() throws(LinearRegex.SyntaxError) -> RegexNode {
        var branches = [try parseConcatenation()]
        while peek == "|" {
            index += 1
            branches.append(try parseConcatenation())
        }
        return branches.count == 1 ? branches[0] : .alternate(branches)
    }

    mutating func parseConcatenation() throws(LinearRegex.SyntaxError) -> RegexNode {
        var items: [RegexNode] = []
        while let c = peek, c != "|", c != ")" {
            guard var atom = try parseAtom() else { continue }
            while let quantifier = try parseQuantifier() {
                atom = .repeated(atom, min: quantifier.min, max: quantifier.max)
            }
            items.append(atom)
        }
        return items.count == 1 ? items[0] : (items.isEmpty ? .empty : .concat(items))
    }

    mutating func parseQuantifier() throws(LinearRegex.SyntaxError) -> (min: Int, max: Int?)? {
        guard let c = peek else { return nil }
        var result: (min: Int, max: Int?)
        switch c {
        case "*": result = (0, nil); index += 1
        case "+": result = (1, nil); index += 1
        case "?": result = (0, 1); index += 1
        case "{":
            guard let counted = try parseCount() else { return nil }  // a literal '{'
            result = counted
        default: return nil
        }
        if peek == "?" { index += 1 }  // lazy: the same for a whole match
        if let c = peek, c == "*" || c == "+" || c == "?" {
            throw error("a quantifier cannot follow another ('\(c)')")
        }
        return result
    }

    /// `{n}`, `{n,}`, `{n,m}`; nil (and no input consumed) when the brace is not a count.
    mutating func parseCount() throws(LinearRegex.SyntaxError) -> (min: Int, max: Int?)? {
        let start = index
        index += 1
        func number() -> Int? {
            var digits = 0
            var value = 0
            while let c = peek, ("0"..."9").contains(c), digits < 5 {
                value = value * 10 + Int(c.value - 48)
                digits += 1
                index += 1
            }
            return digits == 0 ? nil : value
        }
        guard let low = number() else { index = start; return nil }
        var high: Int? = low
        if peek == "," {
            index += 1
            high = number()
        }
        guard peek == "}" else { index = start; return nil }
        index += 1
        guard low <= LinearRegex.maxRepeat, (high ?? 0) <= LinearRegex.maxRepeat else {
            throw error("a repeat count above \(LinearRegex.maxRepeat)")
        }
        if let high, high < low { throw error("a repeat range {\(low),\(high)} that runs backwards") }
        return (low, high)
    }

    /// One atom; nil for a flag group like `(?i)` that only changes the flags.
    mutating func parseAtom() throws(LinearRegex.SyntaxError) -> RegexNode? {
        guard let c = peek else { throw error("unexpected end") }
        index += 1
        switch c {
        case "(": return try parseGroup()
        case ".": return .set(dotAll ? .any : .anyButNewline)
        case "^": return .start
        case "$": return .end
        case "[": return .set(fold(try parseClass()))
        case "\\": return .set(fold(try parseEscape(inClass: false)))
        case "*", "+", "?": throw error("missing argument to repetition operator '\(c)'")
        default: return .set(fold(ScalarSet(ranges: [c.value...c.value])))
        }
    }

    func fold(_ set: ScalarSet) -> ScalarSet { caseInsensitive ? set.caseFolded() : set }

    mutating func parseGroup() throws(LinearRegex.SyntaxError) -> RegexNode? {
        depth += 1
        defer { depth -= 1 }
        guard depth <= 100 else { throw error("groups nested more than 100 deep") }
        let savedFlags = (caseInsensitive, dotAll)
        if peek == "?" {
            index += 1
            if peek == "P" || peek == "<" {
                // (?P<name>…) or (?<name>…): a named group, matched like any group.
                if peek == "P" { index += 1 }
                guard peek == "<" else { throw error("expected '<' after '(?P'") }
                index += 1
                while let c = peek, c != ">" { index += 1 }
                guard peek == ">" else { throw error("unterminated group name") }
                index += 1
            } else {
                var negate = false
                var sawFlag = false
                while let c = peek, c != ":", c != ")" {
                    switch c {
                    case "i": caseInsensitive = !negate
                    case "s": dotAll = !negate
                    case "m", "U": break  // no effect on a whole-text match without lines
                    case "-": negate = true
                    default: throw error("unsupported group flag '\(c)' (look-around and back references are not RE2)")
                    }
                    sawFlag = true
                    index += 1
                }
                guard let end = peek, sawFlag || end == ":" else { throw error("expected flags after '(?'") }
                index += 1
                if end == ")" { return nil }  // (?i): applies to the rest of the enclosing group
            }
        }
        let inner = try parseAlternation()
        guard peek == ")" else { throw error("missing ')'") }
        index += 1
        (caseInsensitive, dotAll) = savedFlags
        return inner
    }

    mutating func parseClass() throws(LinearRegex.SyntaxError) -> ScalarSet {
        var set = ScalarSet(ranges: [])
        if peek == "^" {
            set.negated = true
            index += 1
        }
        var first = true
        while let c = peek, c != "]" || first {
            first = false
            if c == "[", index + 1 < text.count, text[index + 1] == ":" {
                set.ranges += try parsePOSIXClass()
                continue
            }
            index += 1
            var low: ScalarSet
            if c == "\\" { low = try parseEscape(inClass: true) } else { low = ScalarSet(ranges: [c.value...c.value]) }
            if peek == "-", index + 1 < text.count, text[index + 1] != "]", !low.negated, low.ranges.count == 1,
               low.ranges[0].count == 1 {
                index += 1
                let d = text[index]
                index += 1
                let high = d == "\\" ? try parseEscape(inClass: true) : ScalarSet(ranges: [d.value...d.value])
                guard !high.negated, high.ranges.count == 1, high.ranges[0].count == 1 else { throw error("bad class range") }
                let (a, b) = (low.ranges[0].lowerBound, high.ranges[0].lowerBound)
                guard a <= b else { throw error("a class range that runs backwards") }
                low = ScalarSet(ranges: [a...b])
            }
            if low.negated {
                // \D, \W, \S inside a class: add the complement as ranges.
                set.ranges += Self.complement(low.ranges)
            } else {
                set.ranges += low.ranges
            }
        }
        guard peek == "]" else { throw error("missing ']'") }
        index += 1
        return set
    }

    mutating func parsePOSIXClass() throws(LinearRegex.SyntaxError) -> [ClosedRange<UInt32>] {
        index += 2
        var name = ""
        while let c = peek, c != ":" { name.unicodeScalars.append(c); index += 1 }
        guard index + 1 < text.count, text[index + 1] == "]" else { throw error("unterminated POSIX class") }
        index += 2
        var negated = false
        if name.hasPrefix("^") {
            negated = true
            name.removeFirst()
        }
        let ranges: [ClosedRange<UInt32>]
        switch name {
        case "alnum": ranges = [48...57, 65...90, 97...122]
        case "alpha": ranges = [65...90, 97...122]
        case "ascii": ranges = [0...127]
        case "blank": ranges = [9...9, 32...32]
        case "cntrl": ranges = [0...31, 127...127]
        case "digit": ranges = [48...57]
        case "graph": ranges = [33...126]
        case "lower": ranges = [97...122]
        case "print": ranges = [32...126]
        case "punct": ranges = [33...47, 58...64, 91...96, 123...126]
        case "space": ranges = [9...13, 32...32]
        case "upper": ranges = [65...90]
        case "word": ranges = ScalarSet.word.ranges
        case "xdigit": ranges = [48...57, 65...70, 97...102]
        default: throw error("unknown POSIX class [:\(name):]")
        }
        return negated ? Self.complement(ranges) : ranges
    }

    static func complement(_ ranges: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
        var out: [ClosedRange<UInt32>] = []
        var next: UInt32 = 0
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if range.lowerBound > next { out.append(next...(range.lowerBound - 1)) }
            next = max(next, range.upperBound &+ 1)
        }
        if next <= 0x10FFFF { out.append(next...0x10FFFF) }
        return out
    }

    /// After a backslash.
    mutating func parseEscape(inClass: Bool) throws(LinearRegex.SyntaxError) -> ScalarSet {
        guard let c = peek else { throw error("trailing backslash") }
        index += 1
        func one(_ value: UInt32) -> ScalarSet { ScalarSet(ranges: [value...value]) }
        switch c {
        case "d": return .digits
        case "D": return ScalarSet(ranges: ScalarSet.digits.ranges, negated: true)
        case "w": return .word
        case "W": return ScalarSet(ranges: ScalarSet.word.ranges, negated: true)
        case "s": return .space
        case "S": return ScalarSet(ranges: ScalarSet.space.ranges, negated: true)
        case "n": return one(10)
        case "t": return one(9)
        case "r": return one(13)
        case "f": return one(12)
        case "v": return one(11)
        case "a": return one(7)
        case "x": return one(try parseHex())
        case "b", "B", "A", "z", "p", "P", "Q", "E", "C":
            throw error("'\\\(c)' is not supported in Vigil's regular expressions")
        default:
            guard !c.properties.isAlphabetic, !("0"..."9").contains(c) else {
                throw error("unknown escape '\\\(c)'")
            }
            return one(c.value)  // an escaped punctuation character stands for itself
        }
    }

    mutating func parseHex() throws(LinearRegex.SyntaxError) -> UInt32 {
        var digits = ""
        if peek == "{" {
            index += 1
            while let c = peek, c != "}", digits.count < 8 { digits.unicodeScalars.append(c); index += 1 }
            guard peek == "}" else { throw error("unterminated \\x{…}") }
            index += 1
        } else {
            for _ in 0..<2 {
                guard let c = peek else { break }
                digits.unicodeScalars.append(c)
                index += 1
            }
        }
        guard let value = UInt32(digits, radix: 16), value <= 0x10FFFF else { throw error("bad hexadecimal escape") }
        return value
    }
}

/// Thompson's construction: every node becomes a few instructions; repeats are unrolled (bounded
/// by `maxRepeat` and the program size limit).
private struct RegexCompiler {
    var program: [Instruction] = []

    mutating func emit(_ node: RegexNode) throws(LinearRegex.SyntaxError) {
        guard program.count <= LinearRegex.maxInstructions else {
            throw LinearRegex.SyntaxError(description: "the regular expression is too large (more than \(LinearRegex.maxInstructions) states)")
        }
        switch node {
        case .empty: break
        case .set(let set): program.append(.consume(set))
        case .start: program.append(.assertStart)
        case .end: program.append(.assertEnd)
        case .concat(let items): for item in items { try emit(item) }
        case .alternate(let branches):
            var jumps: [Int] = []
            for (i, branch) in branches.enumerated() {
                if i < branches.count - 1 {
                    let split = program.count
                    program.append(.split(split + 1, -1))
                    try emit(branch)
                    jumps.append(program.count)
                    program.append(.jump(-1))
                    program[split] = .split(split + 1, program.count)
                } else {
                    try emit(branch)
                }
            }
            for jump in jumps { program[jump] = .jump(program.count) }
        case .repeated(let inner, let min, let max):
            for _ in 0..<min { try emit(inner) }
            if let max {
                // Each optional copy may be skipped to the end.
                var splits: [Int] = []
                for _ in min..<max {
                    splits.append(program.count)
                    program.append(.split(program.count + 1, -1))
                    try emit(inner)
                }
                for split in splits { program[split] = .split(split + 1, program.count) }
            } else {
                let split = program.count
                program.append(.split(split + 1, -1))
                try emit(inner)
                program.append(.jump(split))
                program[split] = .split(split + 1, program.count)
            }
        }
    }
}
