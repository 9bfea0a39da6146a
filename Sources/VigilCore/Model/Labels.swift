/// A label set: names unique, kept sorted by name so that two equal sets compare and hash equal
/// regardless of the order they were built in.
public struct Labels: Sendable, Hashable, Sequence, CustomStringConvertible {
    public struct Label: Sendable, Hashable {
        public let name: String
        public let value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    public private(set) var pairs: [Label]

    public static let empty = Labels()

    public init() { pairs = [] }

    /// Builds a label set; a later duplicate name replaces an earlier one.
    public init(_ dictionary: [String: String]) {
        pairs = dictionary.map { Label($0.key, $0.value) }.sorted { $0.name < $1.name }
    }

    public init<S: Sequence>(_ pairs: S) where S.Element == (String, String) {
        self.init()
        for (name, value) in pairs { self[name] = value }
    }

    public subscript(name: String) -> String? {
        get { pairs.first { $0.name == name }?.value }
        set {
            let index = pairs.firstIndex { $0.name >= name } ?? pairs.endIndex
            let exists = index < pairs.endIndex && pairs[index].name == name
            switch (newValue, exists) {
            case (nil, true): pairs.remove(at: index)
            case (nil, false): break
            case (let value?, true): pairs[index] = Label(name, value)
            case (let value?, false): pairs.insert(Label(name, value), at: index)
            }
        }
    }

    public var count: Int { pairs.count }
    public var isEmpty: Bool { pairs.isEmpty }
    public func makeIterator() -> IndexingIterator<[Label]> { pairs.makeIterator() }

    /// This set with `other`'s labels added; `other` wins on a name present in both.
    public func merging(_ other: Labels) -> Labels {
        var merged = self
        for label in other.pairs { merged[label.name] = label.value }
        return merged
    }

    /// Prometheus text form: `{a="1",b="x\"y"}`, or the empty string for no labels.
    public var description: String {
        guard !pairs.isEmpty else { return "" }
        var out = "{"
        for (i, label) in pairs.enumerated() {
            if i > 0 { out += "," }
            out += label.name
            out += "=\""
            out += Labels.escape(label.value)
            out += "\""
        }
        return out + "}"
    }

    /// Escapes a label value as the Prometheus exposition format requires (`\`, `"`, newline).
    public static func escape(_ value: String) -> String {
        guard value.contains(where: { $0 == "\\" || $0 == "\"" || $0 == "\n" }) else { return value }
        var out = ""
        out.reserveCapacity(value.utf8.count + 4)
        for ch in value {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(ch)
            }
        }
        return out
    }
}
