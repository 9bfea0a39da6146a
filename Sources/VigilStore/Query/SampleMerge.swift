/// Merging samples from overlapping sources with "last write wins" on equal timestamps.
enum SampleMerge {
    /// One batch in arrival order → sorted by time; for a repeated timestamp the later arrival wins.
    static func sortedLastWins(timestamps: [Int64], values: [Double]) -> Chunk {
        var isSorted = true
        for i in timestamps.indices.dropFirst() where timestamps[i] <= timestamps[i - 1] {
            isSorted = false
            break
        }
        if isSorted { return Chunk(timestamps: timestamps, values: values) }
        // Stable sort by time keeps arrival order among equal timestamps; keep the last of each run.
        let order = timestamps.indices.sorted { a, b in timestamps[a] != timestamps[b] ? timestamps[a] < timestamps[b] : a < b }
        var outT: [Int64] = []
        var outV: [Double] = []
        outT.reserveCapacity(order.count)
        outV.reserveCapacity(order.count)
        for index in order {
            if let last = outT.last, last == timestamps[index] {
                outV[outV.count - 1] = values[index]
            } else {
                outT.append(timestamps[index])
                outV.append(values[index])
            }
        }
        return Chunk(timestamps: outT, values: outV)
    }

    /// `parts` oldest write first; each part sorted. The result is sorted, clipped to
    /// [start, end], and a later part's value wins on an equal timestamp.
    static func mergeLastWins(_ parts: [Chunk], from start: Int64, to end: Int64) -> Chunk {
        // Fast path: parts in time order without overlap (the common case) just concatenate.
        var ordered = true
        for i in parts.indices.dropFirst() {
            if let previousLast = parts[i - 1].timestamps.last, let first = parts[i].timestamps.first, first <= previousLast {
                ordered = false
                break
            }
        }
        var timestamps: [Int64] = []
        var values: [Double] = []
        if ordered, parts.count == 1 {
            timestamps = parts[0].timestamps
            values = parts[0].values
        } else if ordered {
            let total = parts.reduce(0) { $0 + $1.count }
            timestamps.reserveCapacity(total)
            values.reserveCapacity(total)
            for part in parts {
                timestamps.append(contentsOf: part.timestamps)
                values.append(contentsOf: part.values)
            }
        } else {
            let all = parts.flatMap { part in part.timestamps.indices.map { (part.timestamps[$0], part.values[$0]) } }
            let merged = sortedLastWins(timestamps: all.map(\.0), values: all.map(\.1))
            timestamps = merged.timestamps
            values = merged.values
        }
        let lower = firstIndex(in: timestamps, notBelow: start)
        let upper = firstIndex(in: timestamps, notBelow: end == .max ? end : end + 1)
        guard lower < upper else { return Chunk(timestamps: [], values: []) }
        if lower == 0, upper == timestamps.count { return Chunk(timestamps: timestamps, values: values) }
        return Chunk(timestamps: Array(timestamps[lower..<upper]), values: Array(values[lower..<upper]))
    }

    /// The first index whose timestamp is ≥ `bound` in sorted `timestamps` (binary search).
    private static func firstIndex(in timestamps: [Int64], notBelow bound: Int64) -> Int {
        var low = 0, high = timestamps.count
        while low < high {
            let middle = (low + high) / 2
            if timestamps[middle] < bound { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
