/// An MQTT subscription filter (`sensors/+/+/temperature`, `plant/#`) and the matching rules of
/// MQTT 3.1.1 §4.7: `+` matches one level, `#` the rest (including none), and topics starting with
/// `$` are not matched by a filter starting with a wildcard.
public struct TopicFilter: Sendable, Hashable, CustomStringConvertible {
    public let levels: [Substring]
    public let description: String

    /// Validates the filter; returns a reason when it is not a valid MQTT filter.
    public static func parse(_ text: String) -> Result<TopicFilter, TopicFilterError> {
        guard !text.isEmpty else { return .failure(.init("a topic filter cannot be empty")) }
        var filterText = Substring(text)
        // A shared subscription ($share/group/filter) matches like its inner filter.
        if text.hasPrefix("$share/") {
            let parts = text.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, !parts[1].isEmpty, !parts[2].isEmpty else {
                return .failure(.init("a shared subscription looks like $share/GROUP/FILTER"))
            }
            filterText = parts[2]
        }
        let levels = filterText.split(separator: "/", omittingEmptySubsequences: false)
        for (i, level) in levels.enumerated() {
            if level.contains("#"), level != "#" || i != levels.count - 1 {
                return .failure(.init("'#' must be a whole level and the last one"))
            }
            if level.contains("+"), level != "+" {
                return .failure(.init("'+' must be a whole level"))
            }
        }
        return .success(TopicFilter(levels: levels, description: text))
    }

    public func matches(_ topic: String) -> Bool {
        matches(levels: topic.split(separator: "/", omittingEmptySubsequences: false))
    }

    public func matches(levels topic: [Substring]) -> Bool {
        if let first = topic.first, first.hasPrefix("$"), let f = levels.first, f == "+" || f == "#" {
            return false
        }
        var i = 0
        for filterLevel in levels {
            if filterLevel == "#" { return true }
            guard i < topic.count else { return false }
            if filterLevel != "+", filterLevel != topic[i] { return false }
            i += 1
        }
        return i == topic.count
    }
}

public struct TopicFilterError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
