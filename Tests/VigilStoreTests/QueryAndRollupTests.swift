import Foundation
import Testing
import VigilCore
@testable import VigilStore

/// The reference: the windows of a range query computed the obvious way from raw samples.
func referenceQuery(_ samples: [(Int64, Double)], start: Int64, end: Int64, step: Int64,
                    _ aggregation: RangeQuery.Aggregation) -> [(Int64, Double)] {
    var out: [(Int64, Double)] = []
    var t = start
    while t <= end {
        let lower = firstIndex(samples, after: t - step), upper = firstIndex(samples, after: t)
        let inWindow = samples[lower..<upper]
        if !inWindow.isEmpty {
            let values = inWindow.map(\.1)
            let value: Double
            switch aggregation {
            case .avg: value = values.reduce(0, +) / Double(values.count)
            case .min: value = values.min()!
            case .max: value = values.max()!
            case .sum: value = values.reduce(0, +)
            case .count: value = Double(values.count)
            case .last: value = values.last!
            case .rate:
                var increase = 0.0
                for i in lower..<upper where i > 0 {
                    let before = samples[i - 1].1
                    increase += samples[i].1 >= before ? samples[i].1 - before : samples[i].1
                }
                value = increase / (Double(step) / 1000)
            }
            out.append((t, value))
        }
        t += step
    }
    return out
}

/// The index of the first sample later than `t` (samples sorted by time).
func firstIndex(_ samples: [(Int64, Double)], after t: Int64) -> Int {
    var low = 0, high = samples.count
    while low < high {
        let mid = (low + high) / 2
        if samples[mid].0 <= t { low = mid + 1 } else { high = mid }
    }
    return low
}

func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-9 * max(1, abs(a), abs(b)) }

@Suite("Range queries, rollups and retention")
struct QueryAndRollupTests {
    static let day: Int64 = 86_400_000
    static let t0: Int64 = 1_700_006_400_000  // a UTC midnight

    /// Three days of a 0.1-resolution walk every 10 s on two devices, and a counter with resets.
    func filledStore(_ directory: StoreDirectory) throws -> (MetricStore, [String: [(Int64, Double)]]) {
        let store = try MetricStore(options: StoreOptions(path: directory.path))
        var random = SeededRandom(3)
        var reference: [String: [(Int64, Double)]] = [:]
        var batch: [Reading] = []
        var walks = ["a": 215, "b": 190]
        var counter = 0.0
        for i in 0..<(3 * 8640) {
            let t = Self.t0 + Int64(i) * 10_000 + Int64.random(in: 0...40, using: &random)
            for device in ["a", "b"] {
                walks[device]! += Int.random(in: -2...2, using: &random)
                let v = Double(walks[device]!) / 10
                batch.append(reading("temp", ["device": device], t, v))
                reference["temp/\(device)", default: []].append((t, v))
            }
            counter = i % 5000 == 4999 ? 0 : counter + Double(Int.random(in: 0...30, using: &random))
            batch.append(reading("energy", [:], t, counter))
            reference["energy", default: []].append((t, counter))
            if batch.count > 5000 {
                store.append(batch)
                batch = []
                try store.flush()
            }
        }
        store.append(batch)
        try store.flush()
        return (store, reference)
    }

    @Test func rawAndRolledUpQueriesAgreeWithTheReference() throws {
        let directory = StoreDirectory()
        let (store, reference) = try filledStore(directory)
        let cases: [(start: Int64, end: Int64, step: Int64)] = [
            (Self.t0 + 3_600_000, Self.t0 + 7_200_000, 30_000),          // raw
            (Self.t0, Self.t0 + 3 * Self.day, 300_000),                   // 1 m buckets
            (Self.t0 + Self.day / 2, Self.t0 + 3 * Self.day, 3_600_000),  // 1 h buckets
        ]
        func check() throws {
            for c in cases {
                for aggregation in RangeQuery.Aggregation.allCases {
                    for (name, selector) in [("temp/a", #"temp{device="a"}"#), ("energy", "energy")] {
                        let result = try store.query(RangeQuery(selector: try .parse(selector), start: c.start, end: c.end,
                                                                step: c.step, aggregation: aggregation))
                        let expected = referenceQuery(reference[name]!, start: c.start, end: c.end, step: c.step, aggregation)
                        #expect(result.count == 1)
                        // Over rollups, rate sees only each bucket's last sample: a reset inside
                        // a bucket is missed. Compare rate exactly on raw data only.
                        if aggregation == .rate && c.step >= 60_000 { continue }
                        #expect(result.first?.timestamps == expected.map(\.0), "\(aggregation) \(selector) step \(c.step)")
                        let agree = zip(result.first?.values ?? [], expected.map(\.1)).allSatisfy { close($0, $1) }
                        let mismatch = zip(result.first?.values ?? [], expected).first { !close($0, $1.1) }
                        #expect(agree, "\(aggregation) \(selector) step \(c.step): \(String(describing: mismatch))")
                    }
                }
            }
        }
        try check()  // nothing rolled up yet: buckets come from raw samples and the heads
        try store.checkpoint()  // the cut marks the days it writes for rolling up
        try store.rollUpAll(nowMs: Self.t0 + 10 * Self.day)
        #expect(store.counters.rollupBlocks == 9)  // 3 series × 3 days
        // At 10 s a 1 m bucket holds 6 samples, under `rollupMinimumDensity`: only 1 h is stored,
        // and 1 m buckets are aggregated from the raw samples while those are kept.
        #expect(try store.stats().rollupBlobs == 9)
        try check()  // now from the rollup blobs
    }

    /// A 10 s series stores no 1 m rollups while its raw samples are kept, a 2 s one does; when
    /// retention deletes the raw samples, the missing 1 m rollups are written first, so the
    /// answers at a 5 m step do not change.
    @Test func sparseRollupsAreWrittenOnlyWhenRawSamplesExpire() throws {
        let directory = StoreDirectory()
        var options = StoreOptions(path: directory.path)
        options.retention = .seconds(2 * 86_400)
        options.outOfOrderWindow = .seconds(100 * 86_400)
        let store = try MetricStore(options: options)
        var random = SeededRandom(8)
        var slow = 200, fast = 500
        for block in 0..<(4 * 24) {  // 4 days, an hour per append
            var batch: [Reading] = []
            let hourStart = Self.t0 + Int64(block) * 3_600_000
            for i in 0..<1800 {
                let t = hourStart + Int64(i) * 2000 + 1
                fast += Int.random(in: -3...3, using: &random)
                batch.append(reading("fast", [:], t, Double(fast) / 10))
                if i % 5 == 0 {
                    slow += Int.random(in: -2...2, using: &random)
                    batch.append(reading("slow", [:], t, Double(slow) / 10))
                }
            }
            store.append(batch)
            try store.flush()
        }
        try store.checkpoint()
        let now = Self.t0 + 4 * Self.day + 7_200_000
        try store.rollUpAll(nowMs: now, settleWindow: .seconds(300))
        #expect(try store.stats().rollupBlobs == 4 * 2 + 4)  // fast: 1 m and 1 h; slow: 1 h only
        func answers() throws -> [[Double]] {
            try RangeQuery.Aggregation.allCases.filter { $0 != .rate }.flatMap { aggregation in
                try ["fast", "slow"].map { name in
                    try store.query(RangeQuery(selector: try .parse(name), start: Self.t0 + 300_000, end: Self.t0 + Self.day + 43_200_000,
                                               step: 300_000, aggregation: aggregation)).first?.values ?? []
                }
            }
        }
        let before = try answers()
        #expect(before.allSatisfy { $0.count == 432 })
        while try store.applyRetention(nowMs: now).more {}
        #expect(try store.read(try .parse("slow"), from: 0, to: Self.t0 + Self.day).first?.timestamps.isEmpty ?? true,
                "the first day's raw samples are gone")
        // Retention deleted the chunks of days 0 and 1 (slow's chunk that reaches into day 2 ends
        // after the cutoff and stays): slow got its 1 m rollups for those two days before they went.
        let blobs = try store.stats().rollupBlobs
        #expect(blobs == 4 * 2 + 4 + 2, "\(blobs) rollup blobs")
        #expect(try answers() == before)
    }

    @Test func groupingCombinesSeries() throws {
        let directory = StoreDirectory()
        let (store, reference) = try filledStore(directory)
        let start = Self.t0 + 600_000, end = Self.t0 + 1_200_000, step: Int64 = 60_000
        let grouped = try store.query(RangeQuery(selector: try .parse("temp"), start: start, end: end, step: step,
                                                 aggregation: .max, groupBy: []))
        #expect(grouped.count == 1 && grouped[0].labels.isEmpty)
        let a = referenceQuery(reference["temp/a"]!, start: start, end: end, step: step, .max)
        let b = referenceQuery(reference["temp/b"]!, start: start, end: end, step: step, .max)
        #expect(grouped[0].values == zip(a, b).map { max($0.1, $1.1) })
        let byDevice = try store.query(RangeQuery(selector: try .parse("temp"), start: start, end: end, step: step,
                                                  aggregation: .count, groupBy: ["device"]))
        #expect(Set(byDevice.map { $0.labels["device"] ?? "" }) == ["a", "b"])
        let perSeries = try store.query(RangeQuery(selector: try .parse("temp"), start: start, end: end, step: step))
        #expect(perSeries.allSatisfy { $0.labels["__name__"] == "temp" })
    }

    @Test func tooManyPointsIsAClearError() throws {
        let directory = StoreDirectory()
        let store = try MetricStore(options: StoreOptions(path: directory.path))
        #expect(throws: QueryError.self) {
            try store.query(RangeQuery(selector: try .parse("x"), start: 0, end: 100_000_000, step: 1000))
        }
    }

    @Test func rollupSumsOfDecimalsAreExact() {
        let buckets = RollupBuckets.aggregate(timestamps: [1, 2, 3], values: [21.3, 21.4, 0.1], resolution: 60_000)
        #expect(buckets.sum == [42.8])
        #expect(buckets.count == [3] && buckets.min == [0.1] && buckets.max == [21.4] && buckets.last == [0.1])
    }

    @Test func retentionDeletesOldDataAndTheFileShrinks() throws {
        let directory = StoreDirectory()
        var options = StoreOptions(path: directory.path)
        options.retention = .seconds(2 * 86_400)
        // Rollups kept no longer than raw samples: none is written before the raw samples go.
        options.minuteRollupRetention = options.retention
        options.hourRollupRetention = options.retention
        options.outOfOrderWindow = .seconds(100 * 86_400)
        let store = try MetricStore(options: options)
        var random = SeededRandom(5)
        for day in 0..<10 {
            let readings = (0..<8640).flatMap { i in
                (0..<4).map { d in
                    reading("noise", ["d": "\(d)"], Self.t0 + Int64(day) * Self.day + Int64(i) * 10_000,
                            Double(bitPattern: random.next() >> 2))
                }
            }
            store.append(readings)
            try store.flush()
        }
        try store.compactAll()
        try store.vacuum()
        let before = try FileManager.default.attributesOfItem(atPath: directory.path)[.size] as! Int
        let now = Self.t0 + 10 * Self.day
        var outcome = try store.applyRetention(nowMs: now, maxRows: 100_000)
        #expect(outcome.chunksDeleted > 0)
        while outcome.more { outcome = try store.applyRetention(nowMs: now, maxRows: 100_000) }
        let after = try FileManager.default.attributesOfItem(atPath: directory.path)[.size] as! Int
        #expect(after < before / 3, "\(before) → \(after) bytes")
        let left = try store.read(try .parse("noise"), from: 0, to: .max)
        #expect(left.allSatisfy { $0.timestamps.first! >= now - 3 * Self.day })
        #expect(store.counters.retentionChunksDeleted > 0)
    }

    @Test func maxBytesDeletesTheOldestFirst() throws {
        let directory = StoreDirectory()
        var options = StoreOptions(path: directory.path)
        options.outOfOrderWindow = .seconds(100 * 86_400)
        options.retention = .seconds(1000 * 86_400)
        let store = try MetricStore(options: options)
        var random = SeededRandom(6)
        for day in 0..<6 {
            store.append((0..<20_000).map { i in
                reading("noise", [:], Self.t0 + Int64(day) * Self.day + Int64(i) * 1000, Double(bitPattern: random.next() >> 2))
            })
            try store.flush()
            try store.compactAll()
        }
        let full = try store.writer.withLock { database throws(StoreError) in try MetricStore.usedBytes(database) }
        var capped = options
        capped.maxBytes = full / 2
        let reopened = try MetricStore(options: capped)
        while try reopened.applyRetention(nowMs: Self.t0 + 7 * Self.day).more {}
        let used = try reopened.writer.withLock { database throws(StoreError) in try MetricStore.usedBytes(database) }
        #expect(used <= full / 2 && used > full / 4, "\(full) → \(used) bytes")
        let left = try #require(try reopened.read(try .parse("noise"), from: 0, to: .max).first)
        #expect(left.timestamps.last == Self.t0 + 5 * Self.day + 19_999_000)  // the newest survive
        #expect(left.timestamps.first! > Self.t0)
    }
}

@Suite("PromQL parser")
struct PromQLParserTests {
    @Test func supportedShapesParseAndUnsupportedOnesAreNamed() throws {
        for query in ["rate(x[5m])", "sum by (a) (rate(x{b=\"c\"}[1m])) * 60", "max(x) by (a)", "x > bool 3", "-x", "2 ^ 3 ^ 2", "avg_over_time(x[90s])"] {
            _ = try PromQLParser.parse(query)
        }
        let cases = [
            ("histogram_quantile(0.9, x)", "function histogram_quantile is not supported"), ("x offset 5m", "offset is not supported"),
            ("x or y", "set operator 'or'"), ("rate(x[5m:1m])", "subqueries"), ("topk(3, x)", "aggregation topk is not supported"),
            ("rate(x)", "rate needs a range vector"), ("x + on(a) y", "vector matching"), ("\"s\"", "string literals"),
        ]
        for (query, message) in cases {
            #expect(throws: PromQLParser.ParseError.self) { try PromQLParser.parse(query) }
            do { _ = try PromQLParser.parse(query) } catch { #expect(error.description.contains(message), "\(query): \(error)") }
        }
    }

    @Test func hostileInputIsAnErrorNotACrash() {
        #expect(throws: PromQLParser.ParseError.self) { try PromQLParser.parse(String(repeating: "(", count: 10_000) + "1") }
        #expect(throws: PromQLParser.ParseError.self) { try PromQLParser.parse(String(repeating: "-", count: 10_000) + "1") }
        #expect(throws: PromQLParser.ParseError.self) { try PromQLParser.parse(String(repeating: "x+", count: 20_000) + "1") }
        for garbage in ["", "(", "rate(", "{", "sum by (", "x[", "x[5q]", "1 +", "\u{0}", "x{a=\"", "))"] {
            #expect(throws: PromQLParser.ParseError.self, "\(garbage)") { try PromQLParser.parse(garbage) }
        }
    }
}
