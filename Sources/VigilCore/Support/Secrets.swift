/// Random identifiers and their text form, for session ids, API tokens and stream ids.
public enum Secrets {
    /// `count` bytes from the system's cryptographically secure generator.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    /// Hexadecimal, two digits per byte: lower case by default; `uppercase` and `separator`
    /// (between bytes) give the `AB:CD:…` form certificate fingerprints are shown in.
    public static func hex<Bytes: Sequence>(_ bytes: Bytes, uppercase: Bool = false, separator: UInt8? = nil) -> String
    where Bytes.Element == UInt8 {
        let digits = Array((uppercase ? "0123456789ABCDEF" : "0123456789abcdef").utf8)
        var out: [UInt8] = []
        for byte in bytes {
            if let separator, !out.isEmpty { out.append(separator) }
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A URL fit for a log line: without credentials (`user:password@`) and without the query or
    /// fragment, where receivers often put their tokens.
    public static func redactedURL(_ url: String) -> String {
        var text = Substring(url)
        if let query = text.firstIndex(where: { $0 == "?" || $0 == "#" }) { text = text[..<query] }
        if let scheme = text.firstRange(of: "://") {
            let rest = text[scheme.upperBound...]
            if let at = rest.prefix(while: { $0 != "/" }).lastIndex(of: "@") {
                text = text[..<scheme.upperBound] + rest[rest.index(after: at)...]
            }
        }
        return String(text)
    }
}
