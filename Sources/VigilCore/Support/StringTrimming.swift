/// Trimming without Foundation's `CharacterSet` (which lives in full Foundation, with ICU: the
/// binary leaves both out; docs/architecture.md).
extension StringProtocol {
    /// Without leading and trailing spaces and tabs (Unicode spaces included), as
    /// `trimmingCharacters(in: .whitespaces)`: line breaks stay.
    public func trimmingSpaces() -> String { trimming { $0.isWhitespace && !$0.isNewline } }

    /// Without leading and trailing whitespace and line breaks, as
    /// `trimmingCharacters(in: .whitespacesAndNewlines)`.
    public func trimmingWhitespace() -> String { trimming(\.isWhitespace) }

    private func trimming(_ drop: (Character) -> Bool) -> String {
        guard let first = firstIndex(where: { !drop($0) }), let last = lastIndex(where: { !drop($0) }) else { return "" }
        return String(self[first...last])
    }
}
