import Testing
import VigilCore
@testable import VigilIngest

@Suite("The MQTT topic cache")
struct TopicCacheTests {
    func resolution(_ device: String) -> TopicCache.Resolution {
        .resolved(subscription: 0, labels: Labels([("device", device), ("site", "a")]), metric: nil)
    }

    func device(of entry: TopicCache.Entry?) -> String? {
        guard case .resolved(_, let labels, _)? = entry?.resolution else { return nil }
        return labels["device"]
    }

    @Test func topicsAreFoundByTheirWholeBytes() {
        let cache = TopicCache()
        let topics = ["sensors/a/b", "sensors/a/bc", "sensors/a/b/", "", "capteurs/salle-été/température", "sensors/a/B"]
        for (i, topic) in topics.enumerated() { _ = cache.store(resolution("d\(i)"), for: topic) }
        for (i, topic) in topics.enumerated() { #expect(device(of: cache.entry(for: topic)) == "d\(i)", "\(topic)") }
        #expect(cache.entry(for: "sensors/a") == nil)
        #expect(cache.entry(for: "sensors/a/b/c") == nil)
        // Stored again: replaced in place.
        _ = cache.store(resolution("again"), for: "sensors/a/bc")
        #expect(device(of: cache.entry(for: "sensors/a/bc")) == "again")
        #expect(device(of: cache.entry(for: "sensors/a/b")) == "d0")
    }

    @Test func theFirstKeyOfATopicStaysWithItsEntryAndTheRestInTheTable() {
        let cache = TopicCache()
        _ = cache.store(resolution("boiler-1"), for: "plant/boiler-1")
        let first = SeriesKey(metric: "temperature", labels: Labels([("device", "boiler-1")]))
        let second = SeriesKey(metric: "pressure", labels: Labels([("device", "boiler-1")]))
        cache.remember(first, topic: "plant/boiler-1", name: "temperature", exact: false)
        cache.remember(second, topic: "plant/boiler-1", name: "pressure", exact: false)
        #expect(cache.entry(for: "plant/boiler-1")?.single?.key == first)
        #expect(cache.series(topic: "plant/boiler-1", name: "pressure", exact: false) == second)
    }

    @Test func topicsOfOneDeviceShareOneLabelSet() {
        let cache = TopicCache()
        let a = cache.store(resolution("fridge-1"), for: "sensors/a/fridge-1/temperature")
        let b = cache.store(resolution("fridge-1"), for: "sensors/a/fridge-1/door")
        guard case .resolved(_, let la, _) = a.resolution, case .resolved(_, let lb, _) = b.resolution else {
            Issue.record("not resolved")
            return
        }
        #expect(la.pairs.withUnsafeBufferPointer { $0.baseAddress } == lb.pairs.withUnsafeBufferPointer { $0.baseAddress })
    }

    @Test func aFullCacheStartsOverAndStillAnswers() {
        let cache = TopicCache()
        for i in 0...TopicCache.limit { _ = cache.store(resolution("d\(i)"), for: "sensors/site/d\(i)/temperature") }
        #expect(device(of: cache.entry(for: "sensors/site/d\(TopicCache.limit)/temperature")) == "d\(TopicCache.limit)")
        #expect(cache.entry(for: "sensors/site/d0/temperature") == nil)
    }
}
