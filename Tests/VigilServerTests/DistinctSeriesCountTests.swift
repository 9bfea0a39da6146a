import Testing
import VigilCore
@testable import VigilServer

@Suite("The ingest summary's series count")
struct DistinctSeriesCountTests {
    func keys(_ n: Int, offset: Int = 0) -> [SeriesKey] {
        (offset..<offset + n).map { SeriesKey(metric: "temperature", labels: Labels([("device", "d\($0)"), ("site", "s\($0 % 10)")])) }
    }

    @Test func smallFleetsAreCountedNearlyExactlyAndRepeatsOnce() {
        var count = DistinctSeriesCount()
        #expect(count.estimate == 0)
        for _ in 0..<3 { for key in keys(5) { count.add(key) } }
        // Two of a few hundred series share a bit now and then (the hash is seeded per process).
        #expect(abs((count.estimate ?? 0) - 5) <= 1)
        for key in keys(295, offset: 5) { count.add(key) }
        #expect(abs((count.estimate ?? 0) - 300) <= 1)
        count.reset()
        #expect(count.estimate == 0)
    }

    @Test(arguments: [10_000, 100_000])
    func largeFleetsAreWithinOnePercent(series: Int) {
        var count = DistinctSeriesCount()
        for key in keys(series) { count.add(key) }
        for key in keys(series / 2) { count.add(key) }
        let estimate = count.estimate ?? 0
        #expect(abs(estimate - series) <= series / 100, "\(estimate) for \(series)")
    }
}
