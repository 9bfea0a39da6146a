#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FoundationEssentials
import VigilCore

/// Loads a config file and the files it names under a top-level `include:` (a path or a list of
/// paths and glob patterns, relative to the including file), into one merged tree.
///
/// Merge rules: mappings merge key by key, lists concatenate (so rule files can each add
/// `alerts.rules`), and the same scalar set in two files is an error naming both places.
public struct ConfigLoader: Sendable {
    public let environment: [String: String]
    static let maxIncludeDepth = 8

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// The merged root mapping, and every file that went into it (for reload watching).
    public func load(path: String) throws(ConfigError) -> (root: ConfigNode, files: [String]) {
        var files: [String] = []
        let root = try load(path: path, includedFrom: nil, chain: [], files: &files)
        return (root, files)
    }

    private func load(
        path: String, includedFrom: ConfigLocation?, chain: [String], files: inout [String]
    ) throws(ConfigError) -> ConfigNode {
        let canonical = URL(fileURLWithPath: path).standardizedFileURL.path
        if chain.contains(canonical) {
            throw ConfigError("include cycle: \((chain + [canonical]).joined(separator: " -> "))", at: includedFrom)
        }
        guard chain.count < Self.maxIncludeDepth else {
            throw ConfigError("includes nested deeper than \(Self.maxIncludeDepth) files", at: includedFrom)
        }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            let reason = Self.describeReadFailure(path: path)
            if let includedFrom { throw ConfigError("cannot read included file \(path): \(reason)", at: includedFrom) }
            throw ConfigError("cannot read config file \(path): \(reason)", at: nil)
        }
        files.append(path)
        let document = try YAMLReader(file: path, substitution: EnvironmentSubstitution(environment: environment))
            .read(text)
        guard case .mapping(var entries) = document.kind else {
            throw ConfigError("a config file must be a mapping of sections (gateway:, http:, …), found \(document.kindName)",
                              at: document.location)
        }
        guard let includeIndex = entries.firstIndex(where: { $0.key == "include" }) else { return document }
        let includeEntry = entries.remove(at: includeIndex)
        var merged = ConfigNode(.mapping(entries), at: document.location)
        let directory = FilePaths.parent(path)
        for pattern in try includePatterns(includeEntry.value) {
            let resolved = pattern.value.hasPrefix("/") ? pattern.value : FilePaths.join(directory, pattern.value)
            let matches = Self.expand(resolved)
            if matches.isEmpty, !Self.isGlob(resolved) {
                throw ConfigError("included file \(resolved) does not exist", at: pattern.location)
            }
            for match in matches {
                let included = try load(path: match, includedFrom: pattern.location, chain: chain + [canonical], files: &files)
                merged = try Self.merge(merged, included, path: "")
            }
        }
        return merged
    }

    private func includePatterns(_ node: ConfigNode) throws(ConfigError) -> [(value: String, location: ConfigLocation)] {
        switch node.kind {
        case .scalar(let value): return [(value, node.location)]
        case .sequence(let items):
            var out: [(String, ConfigLocation)] = []
            for item in items {
                guard case .scalar(let value) = item.kind else {
                    throw ConfigError("include: expected a file path, found \(item.kindName)", at: item.location)
                }
                out.append((value, item.location))
            }
            return out
        case .null: return []
        case .mapping:
            throw ConfigError("include: expected a file path or a list of paths, found a mapping", at: node.location)
        }
    }

    static func merge(_ base: ConfigNode, _ addition: ConfigNode, path: String) throws(ConfigError) -> ConfigNode {
        switch (base.kind, addition.kind) {
        case (.mapping(var entries), .mapping(let added)):
            for entry in added {
                let childPath = path.isEmpty ? entry.key : "\(path).\(entry.key)"
                if let index = entries.firstIndex(where: { $0.key == entry.key }) {
                    entries[index].value = try merge(entries[index].value, entry.value, path: childPath)
                } else {
                    entries.append(entry)
                }
            }
            return ConfigNode(.mapping(entries), at: base.location)
        case (.sequence(let items), .sequence(let added)):
            return ConfigNode(.sequence(items + added), at: base.location)
        case (.null, _):
            return addition
        case (_, .null):
            return base
        default:
            throw ConfigError("'\(path)' is set both here and at \(base.location)", at: addition.location)
        }
    }

    static func isGlob(_ path: String) -> Bool { path.contains { "*?[".contains($0) } }

    /// Glob expansion, sorted so files load in a stable order.
    static func expand(_ pattern: String) -> [String] {
        guard isGlob(pattern) else { return FileManager.default.fileExists(atPath: pattern) ? [pattern] : [] }
        var result = glob_t()
        defer { globfree(&result) }
        guard glob(pattern, 0, nil, &result) == 0 else { return [] }
        var paths: [String] = []
        for i in 0..<Int(result.gl_pathc) {
            if let cString = result.gl_pathv[i] { paths.append(String(cString: cString)) }
        }
        return paths.sorted()
    }

    static func describeReadFailure(path: String) -> String {
        var isDirectory = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) { return "no such file" }
        if isDirectory { return "it is a directory" }
        if !FileManager.default.isReadableFile(atPath: path) { return "permission denied" }
        return "not valid UTF-8 text"
    }
}
