import Testing
import VigilCore

@Suite("Reading bus fan-out and lagging-subscriber policy")
struct ReadingBusTests {
    func reading(_ value: Double, metric: String = "m") -> Reading {
        Reading(metric: metric, timestampMs: Int64(value), value: value)
    }

    @Test func everySubscriberReceivesEveryBatchInOrder() async {
        let bus = ReadingBus()
        let a = bus.subscribe("a", capacity: 100)
        let b = bus.subscribe("b", capacity: 100)
        bus.publish([reading(1), reading(2)], source: "test")
        bus.publish(reading(3), source: "test")
        #expect(await a.next()?.map(\.value) == [1, 2, 3])
        #expect(await b.next()?.map(\.value) == [1, 2, 3])
    }

    @Test func aParkedConsumerIsWokenByPublish() async {
        let bus = ReadingBus()
        let subscription = bus.subscribe("s", capacity: 10)
        async let received = subscription.next()
        try? await Task.sleep(for: .milliseconds(50))
        bus.publish(reading(7), source: "test")
        #expect(await received?.map(\.value) == [7])
    }

    @Test func aLaggingSubscriberLosesTheOldestAndTheDropIsCounted() async {
        let bus = ReadingBus()
        let slow = bus.subscribe("slow", capacity: 4)
        let fast = bus.subscribe("fast", capacity: 100)
        for i in 1...6 { bus.publish(reading(Double(i)), source: "test") }
        #expect(await slow.next()?.map(\.value) == [3, 4, 5, 6])
        #expect(await fast.next()?.map(\.value) == [1, 2, 3, 4, 5, 6])
        let stats = bus.statistics().first { $0.name == "slow" }
        #expect(stats?.dropped == 2)
        #expect(stats?.delivered == 4)
        #expect(bus.statistics().first { $0.name == "fast" }?.dropped == 0)
    }

    /// What a lagging store queue drops is settled in its source's ledger, so the books balance.
    @Test func dropsAreSettledPerSourceInTheLedger() async {
        let bus = ReadingBus()
        let ledger = IngestLedger()
        let store = bus.subscribe("store", capacity: 3) { dropped in
            ledger.settled(dropped.source, dropped: [("store_queue_full", dropped.readings.count)])
        }
        for i in 1...4 {
            let source = i % 2 == 0 ? "serial/b" : "mqtt/a"
            ledger.published(source, 1)
            bus.publish(reading(Double(i)), source: source)
        }
        let batches = await store.nextBatches() ?? []
        #expect(batches.map(\.source) == ["mqtt/a", "serial/b", "mqtt/a", "serial/b"].suffix(3))
        for batch in batches { ledger.settled(batch.source, stored: batch.readings.count) }
        let entries = ledger.snapshot()
        #expect(entries["mqtt/a"]?.dropped == ["store_queue_full": 1] && entries["mqtt/a"]?.stored == 1)
        #expect(entries["serial/b"]?.stored == 2 && entries["serial/b"]?.inFlight == 0 && entries["mqtt/a"]?.inFlight == 0)
    }

    @Test func finishDeliversWhatIsQueuedThenEnds() async {
        let bus = ReadingBus()
        let subscription = bus.subscribe("s", capacity: 10)
        bus.publish(reading(1), source: "test")
        bus.finish()
        bus.publish(reading(2), source: "test")
        #expect(await subscription.next()?.map(\.value) == [1])
        #expect(await subscription.next() == nil)
    }

    @Test func cancellingTheWaitingTaskEndsTheWait() async {
        let bus = ReadingBus()
        let subscription = bus.subscribe("s", capacity: 10)
        let task = Task { await subscription.next() }
        try? await Task.sleep(for: .milliseconds(50))
        task.cancel()
        #expect(await task.value == nil)
    }

    @Test func manyProducersLoseNothingWithinCapacity() async {
        let bus = ReadingBus()
        let subscription = bus.subscribe("s", capacity: 1_000_000)
        await withTaskGroup(of: Void.self) { group in
            for producer in 0..<4 {
                group.addTask {
                    for i in 0..<10_000 { bus.publish(Reading(metric: "p\(producer)", timestampMs: Int64(i), value: 0), source: "test") }
                }
            }
        }
        bus.finish()
        var count = 0
        for await batch in subscription { count += batch.count }
        #expect(count == 40_000)
    }
}

@Suite("Rate limiter and reconnect backoff")
struct SupportTests {
    @Test func rateLimiterLetsABurstThroughThenCountsTheRest() {
        let limiter = RateLimiter(burst: 2, window: .seconds(60))
        let start = ContinuousClock.now
        #expect(limiter.check("k", now: start).emit)
        #expect(limiter.check("k", now: start).emit)
        #expect(!limiter.check("k", now: start).emit)
        #expect(!limiter.check("k", now: start).emit)
        #expect(limiter.check("other", now: start).emit)
        let later = limiter.check("k", now: start + .seconds(61))
        #expect(later.emit)
        #expect(later.suppressed == 2)
    }

    @Test func backoffGrowsWithinBoundsAndResets() {
        var backoff = ReconnectBackoff(minimum: .seconds(1), maximum: .seconds(30))
        var random = SystemRandomNumberGenerator()
        var ceilings: [Duration] = []
        for _ in 0..<8 {
            ceilings.append(backoff.ceiling)
            let delay = backoff.nextDelay(using: &random)
            #expect(delay >= .seconds(1))
            #expect(delay <= .seconds(30))
        }
        #expect(ceilings == [1, 2, 4, 8, 16, 30, 30, 30].map { Duration.seconds($0) })
        backoff.reset()
        #expect(backoff.ceiling == .seconds(1))
    }

    @Test func backoffDelaysAreSpreadNotLockstep() {
        var delays = Set<Int64>()
        for _ in 0..<50 {
            var backoff = ReconnectBackoff(minimum: .milliseconds(100), maximum: .seconds(60))
            for _ in 0..<5 { _ = backoff.nextDelay() }
            delays.insert(backoff.nextDelay().milliseconds)
        }
        #expect(delays.count > 10)
    }
}
