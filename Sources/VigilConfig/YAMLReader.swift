import CYAML

/// Turns one YAML text into a `ConfigNode` tree with locations, substituting environment
/// variables in scalar values (never in keys, and after parsing, so a value cannot inject YAML).
///
/// The text is parsed by Debian's libyaml (YAML 1.1, the parser Yams wraps too) and composed
/// here from its events: mappings, sequences and scalars with their line and column; plain
/// `null`, `~` and empty values are null. Aliases are refused (a config repeats the value), as is
/// a second document in one file.
struct YAMLReader {
    let file: String
    let substitution: EnvironmentSubstitution

    func read(_ text: String) throws(ConfigError) -> ConfigNode {
        // The parser stays at one address for its whole life (libyaml keeps pointers into it).
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        parser.initialize(to: yaml_parser_t())
        defer { parser.deallocate() }
        guard yaml_parser_initialize(parser) == 1 else {
            throw ConfigError("cannot parse YAML: out of memory", at: ConfigLocation(file: file, line: 1, column: 1))
        }
        defer { yaml_parser_delete(parser) }
        var bytes = Array(text.utf8)
        return try bytes.withUnsafeMutableBufferPointer { (buffer) throws(ConfigError) -> ConfigNode in
            yaml_parser_set_input_string(parser, buffer.baseAddress, buffer.count)
            yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)
            var events = EventReader(parser: parser, reader: self)
            return try events.document()
        }
    }

    func location(_ mark: yaml_mark_t) -> ConfigLocation {
        ConfigLocation(file: file, line: mark.line + 1, column: mark.column + 1)
    }

    /// Pulls events and composes nodes; one value per call, in document order.
    private struct EventReader {
        let parser: UnsafeMutablePointer<yaml_parser_t>
        let reader: YAMLReader

        /// The first document's root (an empty mapping for an empty file).
        mutating func document() throws(ConfigError) -> ConfigNode {
            let empty = ConfigNode(.mapping([]), at: ConfigLocation(file: reader.file, line: 1, column: 1))
            var root: ConfigNode?
            while true {
                var event = try next()
                defer { yaml_event_delete(&event) }
                switch event.type {
                case YAML_STREAM_START_EVENT, YAML_DOCUMENT_END_EVENT:
                    continue
                case YAML_DOCUMENT_START_EVENT:
                    if root != nil {
                        throw ConfigError("one YAML document per file: a second one starts here (use include: for several files)",
                                          at: reader.location(event.start_mark))
                    }
                    var first = try next()
                    root = try node(&first)
                case YAML_STREAM_END_EVENT:
                    return root ?? empty
                default:
                    throw ConfigError("invalid YAML: unexpected event", at: reader.location(event.start_mark))
                }
            }
        }

        /// The node that `event` starts (the event is consumed and freed here).
        mutating func node(_ event: inout yaml_event_t) throws(ConfigError) -> ConfigNode {
            defer { yaml_event_delete(&event) }
            let here = reader.location(event.start_mark)
            switch event.type {
            case YAML_SCALAR_EVENT:
                let scalar = event.data.scalar
                let value = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
                let tag = scalar.tag.map { String(cString: $0) }
                if tag == "tag:yaml.org,2002:null" || (tag == nil && scalar.style == YAML_PLAIN_SCALAR_STYLE && Self.nulls.contains(value)) {
                    return ConfigNode(.null, at: here)
                }
                return ConfigNode(.scalar(try reader.substitution.substitute(value, at: here)), at: here)
            case YAML_SEQUENCE_START_EVENT:
                var items: [ConfigNode] = []
                while true {
                    var item = try next()
                    if item.type == YAML_SEQUENCE_END_EVENT { yaml_event_delete(&item); break }
                    items.append(try node(&item))
                }
                return ConfigNode(.sequence(items), at: here)
            case YAML_MAPPING_START_EVENT:
                var entries: [ConfigEntry] = []
                var seen: [String: ConfigLocation] = [:]
                while true {
                    var key = try next()
                    if key.type == YAML_MAPPING_END_EVENT { yaml_event_delete(&key); break }
                    let keyLocation = reader.location(key.start_mark)
                    guard key.type == YAML_SCALAR_EVENT else {
                        yaml_event_delete(&key)
                        throw ConfigError("mapping keys must be plain words", at: keyLocation)
                    }
                    let name = String(decoding: UnsafeBufferPointer(start: key.data.scalar.value, count: key.data.scalar.length), as: UTF8.self)
                    yaml_event_delete(&key)
                    if let first = seen[name] {
                        throw ConfigError("duplicate key '\(name)' (first set at line \(first.line))", at: keyLocation)
                    }
                    seen[name] = keyLocation
                    var value = try next()
                    entries.append(ConfigEntry(key: name, keyLocation: keyLocation, value: try node(&value)))
                }
                return ConfigNode(.mapping(entries), at: here)
            case YAML_ALIAS_EVENT:
                throw ConfigError("YAML aliases are not supported in Vigil configs; repeat the value", at: here)
            default:
                throw ConfigError("invalid YAML: unexpected event", at: here)
            }
        }

        /// The next event, or the parser's error with its position.
        mutating func next() throws(ConfigError) -> yaml_event_t {
            var event = yaml_event_t()
            guard yaml_parser_parse(parser, &event) == 1 else {
                let state = parser.pointee
                let problem = state.problem.map { String(cString: $0) } ?? "cannot parse"
                let context = state.context.map { " (\(String(cString: $0)) at line \(state.context_mark.line + 1))" } ?? ""
                let at = state.error == YAML_READER_ERROR ? ConfigLocation(file: reader.file, line: 1, column: 1)
                                                           : reader.location(state.problem_mark)
                throw ConfigError("invalid YAML: \(problem)\(context)", at: at)
            }
            return event
        }

        /// Plain scalars YAML 1.1 reads as null.
        static let nulls: Set<String> = ["", "~", "null", "Null", "NULL"]
    }
}
