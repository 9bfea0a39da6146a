extension MetricStore {
    /// Samples appended since the last flush, every series' in one buffer in arrival order.
    ///
    /// Each series kept two arrays of its own before, allocated by its first sample after a flush
    /// and freed by the next flush: at 10 000 series at 1 Hz, 20 000 small blocks (~1.3 MB) made
    /// and freed every second, whose holes the growing heads could not reuse. This buffer keeps
    /// its room from one flush to the next, 20 bytes a sample, and a flush groups it by series in
    /// a few arrays (`columns`).
    struct PendingLog {
        private(set) var slots: [Int32] = []
        private(set) var timestamps: [Int64] = []
        private(set) var values: [Double] = []
        /// Scratch for `columns`, by catalogue slot: the slot's group, or -1. Kept (4 bytes a
        /// series) so a flush does not allocate and clear one per second.
        private var groupOfSlot: [Int32] = []

        var count: Int { slots.count }

        mutating func append(slot: Int, _ timestamp: Int64, _ value: Double) {
            slots.append(Int32(truncatingIfNeeded: slot))
            timestamps.append(timestamp)
            values.append(value)
        }

        /// The first `count` samples grouped by series, in ascending series id (`ids`, by slot),
        /// each series' samples in arrival order (a later write of a timestamp wins).
        mutating func columns(first count: Int, ids: [Int64]) -> SampleColumns {
            if groupOfSlot.count < ids.count {
                groupOfSlot.append(contentsOf: repeatElement(-1, count: ids.count - groupOfSlot.count))
            }
            var groupSlots: [Int32] = []  // first seen first
            var next: [Int] = []  // each group's size, then where its next sample goes
            for i in 0..<count {
                let slot = Int(slots[i])
                if groupOfSlot[slot] < 0 {
                    groupOfSlot[slot] = Int32(groupSlots.count)
                    groupSlots.append(slots[i])
                    next.append(0)
                }
                next[Int(groupOfSlot[slot])] += 1
            }
            let order = groupSlots.indices.sorted { ids[Int(groupSlots[$0])] < ids[Int(groupSlots[$1])] }
            var columns = SampleColumns()
            columns.ids.reserveCapacity(order.count)
            columns.ends.reserveCapacity(order.count)
            var end = 0
            for group in order {
                let size = next[group]
                next[group] = end
                end += size
                columns.ids.append(ids[Int(groupSlots[group])])
                columns.ends.append(end)
            }
            columns.timestamps = [Int64](repeating: 0, count: count)
            columns.values = [Double](repeating: 0, count: count)
            for i in 0..<count {
                let group = Int(groupOfSlot[Int(slots[i])])
                columns.timestamps[next[group]] = timestamps[i]
                columns.values[next[group]] = values[i]
                next[group] += 1
            }
            for slot in groupSlots { groupOfSlot[Int(slot)] = -1 }
            return columns
        }

        /// The samples of the series in `wanted` (slot → id), in arrival order.
        func samples(of wanted: [Int32: Int64]) -> [Int64: PendingSamples] {
            var out: [Int64: PendingSamples] = [:]
            guard !wanted.isEmpty else { return out }
            for i in slots.indices {
                guard let id = wanted[slots[i]] else { continue }
                out[id, default: PendingSamples()].append(timestamps[i], values[i])
            }
            return out
        }

        /// Forgets the first `count` samples (logged); later ones stay for the next flush.
        mutating func removeFirst(_ count: Int) {
            guard count < slots.count else {
                // The room stays for the next second's samples, unless a burst left it far larger.
                let keep = slots.capacity <= max(4096, 2 * count)
                slots.removeAll(keepingCapacity: keep)
                timestamps.removeAll(keepingCapacity: keep)
                values.removeAll(keepingCapacity: keep)
                return
            }
            slots.removeFirst(count)
            timestamps.removeFirst(count)
            values.removeFirst(count)
        }
    }
}
