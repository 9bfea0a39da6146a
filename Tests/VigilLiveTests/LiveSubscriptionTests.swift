import Testing
import VigilCore
import VigilStore
@testable import VigilLive

/// What a console subscribes to (exact series, changed as it scrolls) and what the hub remembers
/// of every series (units, first sight), without a socket.
@Suite("Live subscriptions and the series memory")
struct LiveSubscriptionTests {
    let boiler1 = SeriesKey(metric: "temperature", labels: Labels([("device", "boiler-1"), ("site", "north")]))
    let boiler2 = SeriesKey(metric: "temperature", labels: Labels([("device", "boiler-2"), ("site", "north")]))

    @Test func aSeriesIsSpelledAsReadingsNameIt() throws {
        #expect(try LiveSubscription.seriesKey(boiler1.description) == boiler1)
        #expect(try LiveSubscription.seriesKey(#"temperature{site="north",device="boiler-1"}"#) == boiler1)  // any order
        #expect(try LiveSubscription.seriesKey("uptime") == SeriesKey(metric: "uptime"))
        let quoted = SeriesKey(metric: "m", labels: Labels([("note", #"a "b" \ c"#)]))
        #expect(try LiveSubscription.seriesKey(quoted.description) == quoted)
        for bad in [#"temperature{device=~"boiler-.*"}"#, #"{device="boiler-1"}"#, #"temperature{device!="x"}"#, "temperature{", ""] {
            #expect(throws: StoreError.self, "\(bad)") { try LiveSubscription.seriesKey(bad) }
        }
        #expect(throws: StoreError.self) { try LiveSubscription.seriesKeys([.integer(42)]) }
        #expect(throws: StoreError.self) { try LiveSubscription.seriesKeys(Array(repeating: .string("m"), count: LiveSubscription.maxSeries + 1)) }
        #expect(throws: StoreError.self) { try LiveSubscription.seriesKeys([.string("m")], already: LiveSubscription.maxSeries) }
    }

    @Test func aSeriesSubscriptionMatchesExactlyItsSeriesAndChanges() throws {
        let stream = LiveStream(id: "s", owner: "op", settings: LiveSettings())
        _ = stream.subscribe(1, .series([boiler1]))
        let subscription = try #require(stream.subscriptions[1])
        #expect(subscription.matches(boiler1) && !subscription.matches(boiler2))
        let changed = try #require(stream.change(1, adding: [boiler2], removing: [boiler1]))
        #expect(changed[1]?.matches(boiler2) == true && changed[1]?.matches(boiler1) == false)
        #expect(stream.change(2, adding: [boiler1], removing: []) == nil, "no such subscription")
        _ = stream.subscribe(3, try SeriesSelector.parse("temperature"))
        #expect(stream.change(3, adding: [boiler1], removing: []) == nil, "a selector subscription has no list")
        // Equal sets spell the same signature whatever their order (connections share bodies).
        #expect(LiveSubscription.series([boiler1, boiler2]).description == LiveSubscription.series([boiler2, boiler1]).description)
    }

    @Test func theMemoryKnowsUnitsAndNoticesNewSeriesOnce() {
        let memory = SeriesMemory(limit: 3)
        memory.seed([boiler1])
        let first = memory.note([Reading(series: boiler1, timestampMs: 1, value: 1, unit: "°C"),
                                 Reading(series: boiler2, timestampMs: 1, value: 2, unit: "°C"),
                                 Reading(series: boiler2, timestampMs: 2, value: 3, unit: "°C")])
        #expect(first == [1], "boiler-1 was in the store; boiler-2 is new once")
        #expect(memory.units(of: [boiler1, boiler2]) == ["°C", "°C"])
        // A reading without a unit keeps the one known; another unit replaces it.
        _ = memory.note([Reading(series: boiler1, timestampMs: 3, value: 1), Reading(series: boiler2, timestampMs: 3, value: 1, unit: "K")])
        #expect(memory.units(of: [boiler1, boiler2]) == ["°C", "K"])
        // Bounded: past the limit new series are neither remembered nor announced.
        let more = (0..<5).map { Reading(metric: "m\($0)", timestampMs: 1, value: 0, unit: "W") }
        #expect(memory.note(more) == [0])
        #expect(memory.count == 3)
        #expect(memory.unit(of: SeriesKey(metric: "m4")) == nil)
    }
}
