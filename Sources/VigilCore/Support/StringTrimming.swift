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
        // Nothing to trim when both ends are ASCII and not whitespace, the usual case: walking
        // Characters (grapheme breaking) cost 5 % of ingest CPU for one-number payloads.
        let whole = String(self)
        if let head = whole.utf8.first, let tail = whole.utf8.last, Self.isPlainASCII(head), Self.isPlainASCII(tail) {
            return whole
        }
        guard let first = firstIndex(where: { !drop($0) }), let last = lastIndex(where: { !drop($0) }) else { return "" }
        return String(self[first...last])
    }

    /// ASCII and not whitespace: a byte that neither trimming removes.
    private static func isPlainASCII(_ byte: UInt8) -> Bool {
        byte > 0x20 && byte < 0x7F
    }
}
