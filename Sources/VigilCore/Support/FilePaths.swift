/// Path joining without `NSString` (full Foundation): what the gateway needs of it.
public enum FilePaths {
    /// `directory/name`, with one slash between them; `name` when it is absolute or `directory`
    /// is empty.
    public static func join(_ directory: String, _ name: String) -> String {
        if directory.isEmpty || name.hasPrefix("/") { return name }
        return directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// The directory holding `path`, as `deletingLastPathComponent`: `/a/b` → `/a`, `/a` → `/`,
    /// `b` → `` (the current directory), trailing slashes ignored.
    public static func parent(_ path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "" }
        if slash == trimmed.startIndex { return "/" }
        var parent = trimmed[..<slash]
        while parent.count > 1, parent.hasSuffix("/") { parent = parent.dropLast() }
        return String(parent)
    }
}
