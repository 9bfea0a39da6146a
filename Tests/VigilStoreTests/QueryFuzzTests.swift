import Foundation
import Testing
import VigilCore
import VigilTestSupport
@testable import VigilStore

/// Seeded fuzzing of what API users send the store (PromQL, selectors, regular expressions) and
/// of what imports feed it (CSV), plus the query budget.
@Suite("Fuzz: PromQL, selectors, regular expressions, CSV; query budgets")
struct QueryFuzzTests {
    static let promQLCorpus = [
        "temperature", #"temperature{site="a",device=~"boiler-.*"}"#, "rate(energy_total[5m])",
        #"sum by (site) (rate(energy_total{site!="b"}[1h]))"#, "avg_over_time(temp[10m]) > bool 20",
        "max without (device) (temp) * 2 - 1", "abs(scalar(temp))", "count(up) / 3", "0x1F", "-1e3",
        #"{__name__=~"temp.*"}"#, "increase(x[1y]) + delta(x[90s])", "min_over_time(x[9999999999999y])",
    ]

    /// Parsing never traps; what parses evaluates (or fails with an error) against a real store,
    /// within its budget.
    @Test func promQLParsesAndEvaluatesWithoutTrapping() throws {
        var random = Fuzz.generator("promql")
        let directory = StoreDirectory()
        let store = try MetricStore(options: StoreOptions(path: directory.path))
        let now: Int64 = 1_795_000_000_000
        var readings: [Reading] = []
        for i in 0..<50 {
            let t = now - Int64(i) * 10_000
            readings.append(reading("temp", ["site": "a", "device": "boiler-1"], t, Double(i)))
            readings.append(reading("energy_total", ["site": "b"], t, Double(i * 7)))
        }
        store.append(readings)
        try store.flush()
        var parsed = 0
        for _ in 0..<Fuzz.iterations {
            let text = String(decoding: Fuzz.input(from: Self.promQLCorpus, &random), as: UTF8.self)
            guard let expr = try? PromQLParser.parse(text) else { continue }
            parsed += 1
            let engine = PromQLEngine(store: store, budget: QueryBudget(.init(timeout: .seconds(5), maxSamples: 100_000)))
            let steps = Bool.random(using: &random) ? [now] : Array(stride(from: now - 3_600_000, through: now, by: 60_000))
            _ = try? engine.evaluate(expr, steps: steps)
        }
        #expect(parsed > 0)
    }

    @Test func selectorsParseOrFailWithAReason() {
        var random = Fuzz.generator("selectors")
        let corpus = [#"temp{site="a",device=~"b.*",x!~"(a|b)+"}"#, #"{__name__=~".+"}"#, #"up{job='x\'y'}"#, "a:b{c=`d`}"]
        let keys = [SeriesKey(metric: "temp", labels: Labels(["site": "a", "device": "boiler-1"])),
                    SeriesKey(metric: "up", labels: Labels(["job": String(repeating: "a", count: 10_000) + "!"]))]
        for _ in 0..<Fuzz.iterations {
            let text = String(decoding: Fuzz.input(from: corpus, &random), as: UTF8.self)
            guard let selector = try? SeriesSelector.parse(text) else { continue }
            for key in keys { _ = selector.matches(key) }
        }
    }

    /// The linear-time matcher agrees with Swift's (backtracking) Regex on small generated
    /// patterns and texts.
    @Test func linearRegexAgreesWithSwiftRegex() throws {
        var random = Fuzz.generator("regex-differential")
        func atom(_ depth: Int) -> String {
            switch Int.random(in: 0..<(depth > 2 ? 5 : 8), using: &random) {
            case 0: return "a"
            case 1: return "b"
            case 2: return "."
            case 3: return ["[ab]", "[^a]", "[a-c]", "\\d", "\\w", "[[:alpha:]]"].randomElement(using: &random)!
            case 4: return "\\."
            case 5: return "(" + pattern(depth + 1) + ")"
            case 6: return "(?:" + pattern(depth + 1) + "|" + pattern(depth + 1) + ")"
            default: return "(" + pattern(depth + 1) + ")" + ["*", "+", "?", "{2}", "{1,3}", "{0,}"].randomElement(using: &random)!
            }
        }
        func pattern(_ depth: Int) -> String {
            (0..<Int.random(in: 1...3, using: &random)).map { _ in
                let piece = atom(depth)
                // RE2 refuses a quantifier on a quantifier (Swift would read `a++` as possessive).
                let quantified = "*+?}".contains(piece.last!) && !piece.hasSuffix("\\.")
                return piece + (!quantified && Int.random(in: 0..<4, using: &random) == 0 ? ["*", "+", "?"].randomElement(using: &random)! : "")
            }.joined()
        }
        for _ in 0..<Fuzz.iterations / 4 {
            let text = pattern(0)
            let linear = try LinearRegex(text)
            let swift = try Regex("^(?:" + text + ")$")
            for _ in 0..<8 {
                let input = String((0..<Int.random(in: 0...6, using: &random)).map { _ in "ab.1_-".randomElement(using: &random)! })
                let expected = (try? swift.wholeMatch(in: input)) != nil
                #expect(linear.matches(input) == expected, "/\(text)/ on \"\(input)\"")
            }
        }
    }

    @Test(arguments: ["(a+)+$", "(a|a)*b", "(x+x+)+y", "(a*)*c", "(.*a){20}", "((a?){30}a{30})"])
    func hostilePatternsRunInLinearTime(_ pattern: String) throws {
        let regex = try LinearRegex(pattern)
        let text = String(repeating: "a", count: 5000) + "!"
        let started = ContinuousClock.now
        _ = regex.matches(text)
        #expect(ContinuousClock.now - started < .seconds(2), "\(pattern)")
    }

    @Test(arguments: ["(", "a{2,1}", "a{1001}", "[z-a]", "\\b", "(?=a)", "(?<!a)b", "a**", "\\p{L}", "[[:nope:]]",
                      String(repeating: "(", count: 200) + String(repeating: ")", count: 200), "(((a{100}){100}){100})"])
    func unsupportedOrHugePatternsAreRefusedByName(_ pattern: String) {
        #expect(throws: LinearRegex.SyntaxError.self) { try LinearRegex(pattern) }
    }

    @Test func caseInsensitiveAndDotAllFlags() throws {
        #expect(try LinearRegex("(?i)boiler-[a-c]").matches("BOILER-B"))
        #expect(try !LinearRegex("boiler").matches("Boiler"))
        #expect(try LinearRegex("(?i:b)oiler").matches("Boiler"))
        #expect(try !LinearRegex("a.b").matches("a\nb"))
        #expect(try LinearRegex("(?s)a.b").matches("a\nb"))
        #expect(try LinearRegex("").matches(""))
        #expect(try LinearRegex("é+|\\x{263A}").matches("☺"))
    }

    @Test func csvLinesParseOrFailWithAReason() {
        var random = Fuzz.generator("csv")
        let corpus = [#""temperature{device=""boiler-1"",site=""a""}",1795000000000,21.3"#, "plain,0,-0.0", "x,9223372036854775807,1e308"]
        var reader = SampleCSV.Reader()
        for _ in 0..<Fuzz.iterations {
            let line = String(decoding: Fuzz.input(from: corpus, &random), as: UTF8.self)
            if let reading = try? reader.parse(Substring(line)) { #expect(reading.value.isFinite) }
        }
    }

    @Test func rfc3339FormatsEveryInt64() {
        var random = Fuzz.generator("rfc3339")
        var values: [Int64] = [.min, .max, TimeBounds.minMs, TimeBounds.maxMs, -3_155_760_000_000_000]
        for _ in 0..<Fuzz.iterations { values.append(Int64.random(in: .min ... .max, using: &random)) }
        for ms in values {
            #expect(!RFC3339.format(ms).isEmpty)
        }
        // Far outside RFC 3339's years: ISO 8601's expanded year with its sign, not a wrong year.
        let ancient = RFC3339.format(-3_217_830_883_200_000)
        #expect(ancient.hasPrefix("-099999-") || ancient.hasPrefix("-100000-"), "\(ancient)")
        #expect(RFC3339.format(TimeBounds.maxMs) == "9999-12-31T23:59:59.999Z")
        #expect(RFC3339.format(TimeBounds.minMs) == "0001-01-01T00:00:00.000Z")
    }

    // MARK: Budgets

    @Test func aQueryStopsAtItsSampleLimitItsTimeoutAndOnCancel() throws {
        let directory = StoreDirectory()
        let store = try MetricStore(options: StoreOptions(path: directory.path))
        store.append((0..<5000).map { reading("x", ["i": "\($0 % 10)"], 1_000_000 + Int64($0) * 1000, Double($0)) })
        try store.flush()
        let selector = try SeriesSelector.parse("x")
        #expect(try store.read(selector, from: 0, to: .max, budget: QueryBudget(.init(maxSamples: 10_000))).count == 10)
        #expect(throws: StoreError.self) { try store.read(selector, from: 0, to: .max, budget: QueryBudget(.init(maxSamples: 1000))) }
        #expect(throws: StoreError.self) { try store.read(selector, from: 0, to: .max, budget: QueryBudget(.init(timeout: .zero))) }
        let cancelled = QueryBudget(.init())
        cancelled.cancel()
        #expect(throws: StoreError.self) { try store.read(selector, from: 0, to: .max, budget: cancelled) }
        let abandoned = QueryBudget(.init(), abandoned: { true })
        #expect(throws: StoreError.self) { try store.read(selector, from: 0, to: .max, budget: abandoned) }
        // A range over millennia at the coarsest step walks only the days the series have data on.
        let query = RangeQuery(selector: selector, start: TimeBounds.minMs, end: TimeBounds.maxMs, step: 366 * 86_400_000)
        let started = ContinuousClock.now
        #expect(try store.query(query, budget: QueryBudget(.init())).count == 10)
        #expect(ContinuousClock.now - started < .seconds(5))
        // With a tight sample budget the same query is refused, not walked.
        #expect(throws: StoreError.self) { try store.query(query, budget: QueryBudget(.init(maxSamples: 1000))) }
    }

    @Test func oneStrayOldSampleMarksTwoDaysNotThousands() throws {
        let directory = StoreDirectory()
        let store = try MetricStore(options: StoreOptions(path: directory.path))
        store.append([reading("x", [:], -30_610_224_000_000, 1), reading("x", [:], 1_795_000_000_000, 2)])
        try store.flush()
        #expect(MetricStore.blocksHolding([-30_610_224_000_000, 1_795_000_000_000]).count == 2)
        #expect(MetricStore.blocksHolding([1, 2, 86_400_000, 86_400_001]).count == 2)
    }
}
