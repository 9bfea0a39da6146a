/// "Did you mean" for misspelled keys and words: the closest candidate by edit distance, if it is
/// close enough to be a plausible typo.
public enum Suggestions {
    public static func closest(to word: String, in candidates: [String]) -> String? {
        let lowered = word.lowercased()
        // A key that starts with a known key, or the other way round (`qos_level`, `qos`), is the
        // likeliest meaning even when another key is fewer edits away.
        let related = candidates.filter {
            let candidate = $0.lowercased()
            return candidate.hasPrefix(lowered) || lowered.hasPrefix(candidate)
        }
        if let best = related.min(by: { editDistance(lowered, $0.lowercased()) < editDistance(lowered, $1.lowercased()) }) {
            return best
        }
        var best: (candidate: String, distance: Int)?
        for candidate in candidates {
            let distance = editDistance(lowered, candidate.lowercased())
            if distance < (best?.distance ?? Int.max) { best = (candidate, distance) }
        }
        guard let best, best.distance <= max(2, word.count / 3) else { return nil }
        return best.candidate
    }

    /// Levenshtein distance with adjacent transpositions counted as one edit.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.unicodeScalars), b = Array(b.unicodeScalars)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous2 = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], previous2[j - 2] + 1)
                }
            }
            (previous2, previous, current) = (previous, current, previous2)
        }
        return previous[b.count]
    }
}
