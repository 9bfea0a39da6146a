/// A config mapping being decoded. Every key a section asks for is remembered, so `finish()` can
/// reject the keys nobody asked for, with a "did you mean" suggestion drawn from the known keys.
///
///     let http = try root.object("http")
///     let listen = try http.string("listen", default: "0.0.0.0:8443")
///     try http.finish()
public final class ConfigObject {
    /// Dotted path for messages: `mqtt.brokers[0]`; empty at the top level.
    public let path: String
    public let location: ConfigLocation
    public let diagnostics: ConfigDiagnostics
    private let entries: [ConfigEntry]
    private var known: [String] = []

    public init(_ node: ConfigNode, path: String, diagnostics: ConfigDiagnostics) throws(ConfigError) {
        self.path = path
        self.location = node.location
        self.diagnostics = diagnostics
        switch node.kind {
        case .mapping(let entries): self.entries = entries
        case .null: self.entries = []
        default:
            throw ConfigError("\(path.isEmpty ? "the config" : path): expected a mapping of keys, found \(node.kindName)",
                              at: node.location)
        }
    }

    public var keys: [String] { entries.map(\.key) }

    public func qualified(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The raw node under `key`, or nil when absent or null. Marks `key` as known.
    public func node(_ key: String) -> ConfigNode? {
        if !known.contains(key) { known.append(key) }
        guard let entry = entries.first(where: { $0.key == key }) else { return nil }
        if case .null = entry.value.kind { return nil }
        return entry.value
    }

    public func has(_ key: String) -> Bool { node(key) != nil }

    /// Where `key` is written, or where this mapping starts when it is absent.
    public func location(of key: String) -> ConfigLocation {
        entries.first(where: { $0.key == key })?.keyLocation ?? location
    }

    public func scalar(_ key: String) throws(ConfigError) -> (value: String, location: ConfigLocation)? {
        guard let node = node(key) else { return nil }
        guard case .scalar(let value) = node.kind else {
            throw ConfigError("\(qualified(key)): expected a value, found \(node.kindName)", at: node.location)
        }
        return (value, node.location)
    }

    /// Reads a scalar through `parse`; `expected` completes "expected …" in the error.
    public func value<T>(
        _ key: String, expected: String, _ parse: (String) -> T?
    ) throws(ConfigError) -> T? {
        guard let (raw, where_) = try scalar(key) else { return nil }
        guard let parsed = parse(raw) else {
            throw ConfigError("\(qualified(key)): expected \(expected), found '\(raw)'", at: where_)
        }
        return parsed
    }

    public func string(_ key: String, default fallback: String) throws(ConfigError) -> String {
        try scalar(key)?.value ?? fallback
    }

    public func optionalString(_ key: String) throws(ConfigError) -> String? {
        try scalar(key)?.value
    }

    public func requiredString(_ key: String) throws(ConfigError) -> String {
        guard let value = try scalar(key)?.value, !value.isEmpty else {
            throw ConfigError("\(qualified(key)) is required", at: location(of: key))
        }
        return value
    }

    public func int(_ key: String, default fallback: Int, in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        guard let (raw, where_) = try scalar(key) else { return fallback }
        guard let value = Int(raw), range.contains(value) else {
            throw ConfigError(
                "\(qualified(key)): expected a whole number from \(range.lowerBound) to \(range.upperBound), found '\(raw)'",
                at: where_)
        }
        return value
    }

    /// A finite number (`1`, `-0.5`, `1e3`).
    public func number(_ key: String, default fallback: Double) throws(ConfigError) -> Double {
        try value(key, expected: "a number", { Double($0).flatMap { $0.isFinite ? $0 : nil } }) ?? fallback
    }

    public func bool(_ key: String, default fallback: Bool) throws(ConfigError) -> Bool {
        try value(key, expected: "true or false", ConfigValues.parseBool) ?? fallback
    }

    public func duration(_ key: String, default fallback: Duration) throws(ConfigError) -> Duration {
        try value(key, expected: "a duration such as 500ms, 15s, 5m, 1h or 30d", ConfigValues.parseDuration) ?? fallback
    }

    public func byteSize(_ key: String) throws(ConfigError) -> Int64? {
        try value(key, expected: "a size such as 512MiB or 10GB", ConfigValues.parseByteSize)
    }

    /// One of a fixed set of words.
    public func choice(_ key: String, from options: [String], default fallback: String) throws(ConfigError) -> String {
        guard let (raw, where_) = try scalar(key) else { return fallback }
        guard options.contains(raw) else {
            let hint = Suggestions.closest(to: raw, in: options).map { " (did you mean '\($0)'?)" } ?? ""
            throw ConfigError(
                "\(qualified(key)): expected one of \(options.joined(separator: ", ")), found '\(raw)'\(hint)", at: where_)
        }
        return raw
    }

    /// A list of strings; a single string is accepted as a list of one.
    public func stringList(_ key: String, default fallback: [String]) throws(ConfigError) -> [String] {
        guard let node = node(key) else { return fallback }
        switch node.kind {
        case .scalar(let value): return [value]
        case .sequence(let items):
            var out: [String] = []
            for item in items {
                guard case .scalar(let value) = item.kind else {
                    throw ConfigError("\(qualified(key)): expected a list of values, found \(item.kindName) in it",
                                      at: item.location)
                }
                out.append(value)
            }
            return out
        default:
            throw ConfigError("\(qualified(key)): expected a list of values, found \(node.kindName)", at: node.location)
        }
    }

    /// A flat `name: value` mapping (static labels, headers), in file order.
    public func stringMap(_ key: String) throws(ConfigError) -> [(key: String, value: String, location: ConfigLocation)] {
        guard let node = node(key) else { return [] }
        guard case .mapping(let entries) = node.kind else {
            throw ConfigError("\(qualified(key)): expected a mapping of names to values, found \(node.kindName)",
                              at: node.location)
        }
        var out: [(String, String, ConfigLocation)] = []
        for entry in entries {
            switch entry.value.kind {
            case .scalar(let value): out.append((entry.key, value, entry.keyLocation))
            case .null: out.append((entry.key, "", entry.keyLocation))
            default:
                throw ConfigError("\(qualified(key)).\(entry.key): expected a value, found \(entry.value.kindName)",
                                  at: entry.value.location)
            }
        }
        return out
    }

    /// A nested mapping, or nil when the key is absent.
    public func object(_ key: String) throws(ConfigError) -> ConfigObject? {
        guard let node = node(key) else { return nil }
        return try ConfigObject(node, path: qualified(key), diagnostics: diagnostics)
    }

    /// A nested mapping, or an empty one when absent (so defaults apply and `finish()` still works).
    public func section(_ key: String) throws(ConfigError) -> ConfigObject {
        if let object = try object(key) { return object }
        return try ConfigObject(ConfigNode(.null, at: location(of: key)), path: qualified(key), diagnostics: diagnostics)
    }

    /// A list of mappings (`brokers:`, `subscriptions:`), each with its `key[i]` path.
    public func objects(_ key: String) throws(ConfigError) -> [ConfigObject] {
        guard let node = node(key) else { return [] }
        guard case .sequence(let items) = node.kind else {
            throw ConfigError("\(qualified(key)): expected a list, found \(node.kindName)", at: node.location)
        }
        var out: [ConfigObject] = []
        for (i, item) in items.enumerated() {
            out.append(try ConfigObject(item, path: "\(qualified(key))[\(i)]", diagnostics: diagnostics))
        }
        return out
    }

    /// A list of mappings that each have a unique `name` (brokers, ports, buses, endpoints,
    /// notifiers): each decoded by `decode`; a second entry with the same name is an error at its
    /// `name`, calling the thing `what` ("a serial port").
    public func namedObjects<T>(_ key: String, what: String, name: (T) -> String,
                                _ decode: (ConfigObject) throws(ConfigError) -> T) throws(ConfigError) -> [T] {
        var out: [T] = []
        for object in try objects(key) {
            let item = try decode(object)
            if out.contains(where: { name($0) == name(item) }) {
                throw ConfigError("\(object.path).name: \(what) named '\(name(item))' is already defined", at: object.location(of: "name"))
            }
            out.append(item)
        }
        return out
    }

    /// Rejects every key that no reader asked for.
    public func finish() throws(ConfigError) {
        for entry in entries where !known.contains(entry.key) {
            let place = path.isEmpty ? "at the top level" : "in \(path)"
            let hint = Suggestions.closest(to: entry.key, in: known).map { " (did you mean '\($0)'?)" } ?? ""
            throw ConfigError("unknown key '\(entry.key)' \(place)\(hint)", at: entry.keyLocation)
        }
    }

    public func warn(_ message: String, at location: ConfigLocation? = nil) {
        diagnostics.warn(.warning(message, at: location ?? self.location))
    }
}

/// Collects warnings while a config is decoded.
public final class ConfigDiagnostics {
    public private(set) var warnings: [ConfigDiagnostic] = []
    public init() {}
    public func warn(_ warning: ConfigDiagnostic) { warnings.append(warning) }
}
