import Testing
@testable import VigilStore

@Suite("Pending samples: one buffer in arrival order, grouped by series at each flush")
struct PendingLogTests {
    /// Slots 0, 1, 2 hold ids 30, 10, 20: the record wants ids ascending, each series' samples in
    /// the order they came (a later write of a timestamp wins when read back).
    @Test func aFlushGroupsBySeriesIdKeepingArrivalOrder() {
        var pending = MetricStore.PendingLog()
        let ids: [Int64] = [30, 10, 20]
        for (slot, t, v) in [(0, 1, 1.0), (1, 1, 2.0), (0, 2, 3.0), (2, 1, 4.0), (0, 2, 5.0), (1, 3, 6.0)] as [(Int, Int64, Double)] {
            pending.append(slot: slot, t, v)
        }
        let columns = pending.columns(first: pending.count, ids: ids)
        #expect(columns.ids == [10, 20, 30])
        #expect(columns.range(0) == 0..<2 && columns.range(1) == 2..<3 && columns.range(2) == 3..<6)
        #expect(columns.timestamps == [1, 3, 1, 1, 2, 2])
        #expect(columns.values == [2, 6, 4, 1, 3, 5])
        // The scratch is clean for the next flush: grouping again gives the same.
        #expect(pending.columns(first: pending.count, ids: ids) == columns)
    }

    /// Appends that arrive while a flush writes its record stay for the next one.
    @Test func onlyWhatAFlushTookLeaves() {
        var pending = MetricStore.PendingLog()
        pending.append(slot: 1, 10, 1)
        pending.append(slot: 0, 10, 2)
        let taken = pending.count
        let first = pending.columns(first: taken, ids: [7, 8])
        pending.append(slot: 1, 11, 3)  // during the write
        pending.removeFirst(taken)
        #expect(first.ids == [7, 8] && first.values == [2, 1])
        #expect(pending.count == 1)
        let second = pending.columns(first: pending.count, ids: [7, 8])
        #expect(second.ids == [8] && second.timestamps == [11] && second.values == [3])
        pending.removeFirst(1)
        #expect(pending.count == 0)
        #expect(pending.columns(first: 0, ids: [7, 8]).groupCount == 0)
    }

    @Test func queriesSeeTheSamplesOfTheirSeriesOnly() {
        var pending = MetricStore.PendingLog()
        for i in 0..<10 { pending.append(slot: i % 3, Int64(i), Double(i)) }
        let seen = pending.samples(of: [2: 200, 0: 100])
        #expect(seen.keys.sorted() == [100, 200])
        #expect(seen[100]?.timestamps == [0, 3, 6, 9])
        #expect(seen[200]?.values == [2, 5, 8])
        #expect(pending.samples(of: [:]).isEmpty)
    }

    /// A burst's room is given back once the flushes are small again; a steady flow keeps its room.
    @Test func aBurstDoesNotKeepItsRoom() {
        var pending = MetricStore.PendingLog()
        for i in 0..<100_000 { pending.append(slot: 0, Int64(i), 0) }
        pending.removeFirst(pending.count)  // the burst's own flush keeps the room…
        #expect(pending.slots.capacity >= 100_000)
        for i in 0..<10 { pending.append(slot: 0, Int64(i), 0) }
        pending.removeFirst(pending.count)  // …the next small one gives it back
        #expect(pending.slots.capacity < 100_000)
    }
}
