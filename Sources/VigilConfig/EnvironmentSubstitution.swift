import FoundationEssentials

/// `${VAR}` and `${VAR:-default}` in config values. `$$` is a literal `$`.
/// A variable that is unset (or, with `:-`, unset or empty) and has no default is an error, so a
/// typo in a variable name cannot silently become an empty password or path.
public struct EnvironmentSubstitution: Sendable {
    public let environment: [String: String]

    public init(environment: [String: String]) {
        self.environment = environment
    }

    public func substitute(_ text: String, at location: ConfigLocation) throws(ConfigError) -> String {
        guard text.contains("$") else { return text }
        var out = ""
        var index = text.startIndex
        while index < text.endIndex {
            let ch = text[index]
            guard ch == "$" else {
                out.append(ch)
                index = text.index(after: index)
                continue
            }
            let next = text.index(after: index)
            if next < text.endIndex, text[next] == "$" {
                out.append("$")
                index = text.index(after: next)
                continue
            }
            guard next < text.endIndex, text[next] == "{" else {
                out.append("$")
                index = next
                continue
            }
            guard let close = text[next...].firstIndex(of: "}") else {
                throw ConfigError("unterminated '${' in \"\(text)\" (write $$ for a literal $)", at: location)
            }
            let body = String(text[text.index(after: next)..<close])
            out += try resolve(body, at: location)
            index = text.index(after: close)
        }
        return out
    }

    private func resolve(_ body: String, at location: ConfigLocation) throws(ConfigError) -> String {
        let name: String
        let fallback: String?
        if let range = body.firstRange(of: ":-") {
            name = String(body[..<range.lowerBound])
            fallback = String(body[range.upperBound...])
        } else {
            name = body
            fallback = nil
        }
        guard Self.isValidName(name) else {
            throw ConfigError("invalid environment variable name '\(name)' in ${\(body)}", at: location)
        }
        if let value = environment[name], !(fallback != nil && value.isEmpty) { return value }
        if let fallback { return fallback }
        throw ConfigError(
            "environment variable \(name) is not set (set it, or give a default: ${\(name):-value})",
            at: location)
    }

    private static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || first.isASCIILetter else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || $0.isASCIILetter || ("0"..."9").contains($0) }
    }
}

extension Unicode.Scalar {
    fileprivate var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
}
