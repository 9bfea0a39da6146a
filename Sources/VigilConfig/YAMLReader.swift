import Yams

/// Turns one YAML text into a `ConfigNode` tree with locations, substituting environment
/// variables in scalar values (never in keys, and after parsing, so a value cannot inject YAML).
struct YAMLReader {
    let file: String
    let substitution: EnvironmentSubstitution

    func read(_ text: String) throws(ConfigError) -> ConfigNode {
        let root: Yams.Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw translate(error, text: text)
        } catch {
            throw ConfigError("cannot parse YAML: \(error)", at: ConfigLocation(file: file, line: 1, column: 1))
        }
        guard let root else { return ConfigNode(.mapping([]), at: ConfigLocation(file: file, line: 1, column: 1)) }
        return try convert(root)
    }

    private func location(_ mark: Yams.Mark?) -> ConfigLocation {
        ConfigLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    private func convert(_ node: Yams.Node) throws(ConfigError) -> ConfigNode {
        let here = location(node.mark)
        switch node {
        case .scalar(let scalar):
            if scalar.tag.rawValue == Tag.Name.null.rawValue { return ConfigNode(.null, at: here) }
            return ConfigNode(.scalar(try substitution.substitute(scalar.string, at: here)), at: here)
        case .sequence(let sequence):
            var items: [ConfigNode] = []
            for item in sequence { items.append(try convert(item)) }
            return ConfigNode(.sequence(items), at: here)
        case .mapping(let mapping):
            var entries: [ConfigEntry] = []
            var seen: [String: ConfigLocation] = [:]
            for (key, value) in mapping {
                let keyLocation = location(key.mark)
                guard case .scalar(let keyScalar) = key else {
                    throw ConfigError("mapping keys must be plain words, found \(key)", at: keyLocation)
                }
                if let first = seen[keyScalar.string] {
                    throw ConfigError(
                        "duplicate key '\(keyScalar.string)' (first set at line \(first.line))", at: keyLocation)
                }
                seen[keyScalar.string] = keyLocation
                entries.append(ConfigEntry(key: keyScalar.string, keyLocation: keyLocation, value: try convert(value)))
            }
            return ConfigNode(.mapping(entries), at: here)
        case .alias:
            throw ConfigError("YAML aliases are not supported in Vigil configs; repeat the value", at: here)
        }
    }

    private func translate(_ error: YamlError, text: String) -> ConfigError {
        switch error {
        case .scanner(let context, let problem, let mark, _),
            .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let detail = context.map { " (\($0.text) at line \($0.mark.line))" } ?? ""
            return ConfigError("invalid YAML: \(problem)\(detail)", at: location(mark))
        case .duplicatedKeysInMapping(let duplicates, let context):
            if let key = duplicates.sorted().first,
               let (first, second) = Self.findDuplicate(key, in: text, mapping: context.mark) {
                return ConfigError("duplicate key '\(key)' (first set at line \(first))",
                                   at: ConfigLocation(file: file, line: second, column: context.mark.column))
            }
            return ConfigError(
                "duplicate key '\(duplicates.sorted().joined(separator: "', '"))' in this mapping", at: location(context.mark))
        case .reader(let problem, _, _, _):
            return ConfigError("cannot read YAML: \(problem)", at: location(nil))
        default:
            return ConfigError("invalid YAML: \(error)", at: location(nil))
        }
    }

    /// Yams reports a duplicate key at the start of its mapping; find the lines of the first and
    /// the repeated key (block style: keys at the mapping's column) so the error points at the repeat.
    static func findDuplicate(_ key: String, in text: String, mapping: Yams.Mark) -> (Int, Int)? {
        var found: [Int] = []
        let indent = mapping.column - 1
        for (offset, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where offset + 1 >= mapping.line {
            let scalars = Array(line.unicodeScalars)
            guard scalars.count > indent else { continue }
            let prefix = String(String.UnicodeScalarView(scalars[..<indent]))
            let rest = String(String.UnicodeScalarView(scalars[indent...]))
            let prefixIsIndent = prefix.allSatisfy { $0 == " " || $0 == "-" }
            if offset + 1 > mapping.line, !prefix.allSatisfy({ $0 == " " }) { break }  // left the mapping
            if prefixIsIndent, rest.hasPrefix("\(key):") || rest.hasPrefix("\"\(key)\":") { found.append(offset + 1) }
            if found.count == 2 { return (found[0], found[1]) }
        }
        return nil
    }
}
