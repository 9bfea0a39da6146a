/// The readings of one series inside a rule's trailing window, for rate and delta conditions.
/// Bounded: a burst of readings inside the window keeps at most `capacity` points (oldest first
/// out), which keeps the first and the latest point meaningful.
struct ChangeWindow: Sendable {
    private var times: [Int64] = []
    private var values: [Double] = []
    private var start = 0
    static let capacity = 4096

    mutating func add(timestampMs: Int64, value: Double, windowMs: Int64) {
        if let last = times.last, timestampMs < last { return } // late reading: the window is ordered
        times.append(timestampMs)
        values.append(value)
        let horizon = timestampMs - windowMs
        while start < times.count - 1, times[start] < horizon { start += 1 }
        if times.count - start > Self.capacity { start = times.count - Self.capacity }
        if start > 1024, start * 2 > times.count {
            times.removeFirst(start)
            values.removeFirst(start)
            start = 0
        }
    }

    /// last − first over the window; nil with fewer than two readings.
    var delta: (change: Double, spanMs: Int64)? {
        guard times.count - start >= 2, let lastTime = times.last, let lastValue = values.last else { return nil }
        return (lastValue - values[start], lastTime - times[start])
    }
}
