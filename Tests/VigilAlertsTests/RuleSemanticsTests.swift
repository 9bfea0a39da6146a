import Foundation
import Testing
import VigilCore
import VigilStore
@testable import VigilAlerts

/// The rule state machine, table by table, with time passed in (seconds from 0).
@Suite("Alert rule semantics")
struct RuleSemanticsTests {
    /// `r(t, v)`: a reading of v arriving at t s; `tick(t)`: time passes to t s with no reading.
    enum Step {
        case r(Int64, Double, expect: AlertState)
        case tick(Int64, expect: AlertState)
    }

    struct Case: CustomTestStringConvertible {
        let name: String
        let condition: AlertCondition
        var pendingFor: Duration = .zero
        var keepFiringFor: Duration = .zero
        let steps: [Step]
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "threshold without for fires at once and resolves at once",
             condition: .threshold(.greater, 80, clear: nil),
             steps: [.r(0, 70, expect: .inactive), .r(10, 81, expect: .firing), .r(20, 79, expect: .resolved)]),
        Case(name: "for: pending until the condition held long enough, on readings or ticks",
             condition: .threshold(.greater, 80, clear: nil), pendingFor: .seconds(60),
             steps: [.r(0, 90, expect: .pending), .r(30, 91, expect: .pending), .tick(59, expect: .pending),
                     .tick(60, expect: .firing), .r(70, 10, expect: .resolved)]),
        Case(name: "for: a pending alert that stops holding goes back to inactive without firing",
             condition: .threshold(.greater, 80, clear: nil), pendingFor: .seconds(60),
             steps: [.r(0, 90, expect: .pending), .r(30, 50, expect: .inactive), .tick(120, expect: .inactive),
                     .r(130, 90, expect: .pending), .tick(190, expect: .firing)]),
        Case(name: "keep_firing_for: stays firing through a short dip, resolves after a long one",
             condition: .threshold(.greater, 80, clear: nil), keepFiringFor: .seconds(120),
             steps: [.r(0, 90, expect: .firing), .r(10, 70, expect: .firing), .r(60, 95, expect: .firing),
                     .r(70, 70, expect: .firing), .tick(189, expect: .firing), .tick(190, expect: .resolved)]),
        Case(name: "hysteresis: clears only at the clear threshold",
             condition: .threshold(.greater, 80, clear: 75),
             steps: [.r(0, 78, expect: .inactive), .r(10, 81, expect: .firing), .r(20, 78, expect: .firing),
                     .r(30, 76, expect: .firing), .r(40, 75, expect: .resolved), .r(50, 78, expect: .resolved),
                     .r(60, 80.5, expect: .firing)]),
        Case(name: "hysteresis downward: < 10 clear 12",
             condition: .threshold(.less, 10, clear: 12),
             steps: [.r(0, 9, expect: .firing), .r(10, 11, expect: .firing), .r(20, 12, expect: .resolved)]),
        Case(name: "outside a range",
             condition: .outside(low: 10, high: 30),
             steps: [.r(0, 20, expect: .inactive), .r(1, 31, expect: .firing), .r(2, 30, expect: .resolved),
                     .r(3, 9.9, expect: .firing), .r(4, 10, expect: .resolved)]),
        Case(name: "stale: fires when a series that reported stops, resolves on the next reading",
             condition: .stale(.seconds(60)),
             steps: [.r(0, 1, expect: .inactive), .tick(59, expect: .inactive), .tick(60, expect: .firing),
                     .tick(600, expect: .firing), .r(601, 1, expect: .resolved), .tick(660, expect: .resolved), .tick(662, expect: .firing)]),
        Case(name: "stale with for: pending first",
             condition: .stale(.seconds(60)), pendingFor: .seconds(30),
             steps: [.r(0, 1, expect: .inactive), .tick(60, expect: .pending), .tick(89, expect: .pending), .tick(90, expect: .firing)]),
        Case(name: "rate per minute over a window (°C/min); readings covering under half the window are no rate",
             condition: .change(.rate(per: .seconds(60)), window: .seconds(300), .greater, 2, clear: nil),
             steps: [.r(0, 20, expect: .inactive), .r(60, 21, expect: .inactive), .r(120, 26, expect: .inactive),
                     .r(180, 27, expect: .firing), .r(240, 27, expect: .resolved), .r(260, 40, expect: .firing),
                     .r(900, 40, expect: .resolved)]),
        Case(name: "rate with hysteresis",
             condition: .change(.rate(per: .seconds(60)), window: .seconds(120), .greater, 2, clear: 1),
             steps: [.r(0, 0, expect: .inactive), .r(60, 3, expect: .firing), .r(120, 6, expect: .firing),
                     .r(180, 7.5, expect: .firing), .r(240, 8, expect: .resolved)]),
        Case(name: "delta over a window",
             condition: .change(.delta, window: .seconds(600), .greater, 0, clear: nil),
             steps: [.r(0, 5, expect: .inactive), .r(60, 5, expect: .inactive), .r(120, 6, expect: .inactive),
                     .r(500, 6, expect: .firing), .r(800, 6, expect: .resolved)]),
        Case(name: "equality",
             condition: .threshold(.equal, 1, clear: nil), pendingFor: .seconds(120),
             steps: [.r(0, 1, expect: .pending), .r(60, 1, expect: .pending), .r(120, 1, expect: .firing), .r(130, 0, expect: .resolved)]),
    ]

    @Test(arguments: cases)
    func table(_ c: Case) throws {
        let rule = AlertRule(name: "R", selector: try SeriesSelector.parse("t"), condition: c.condition,
                             pendingFor: c.pendingFor, keepFiringFor: c.keepFiringFor)
        var evaluator = AlertEvaluator(rules: [rule])
        let series = SeriesKey(metric: "t", labels: Labels(["device": "d1"]))
        let key = AlertInstance.Key(rule: "R", series: series.description)
        for (i, step) in c.steps.enumerated() {
            switch step {
            case .r(let t, let value, let expected):
                _ = evaluator.observe(Reading(series: series, timestampMs: t * 1000, value: value), now: t * 1000)
                #expect(evaluator.instances[key]?.state == expected, "step \(i): reading \(value) at \(t)s")
            case .tick(let t, let expected):
                _ = evaluator.tick(now: t * 1000)
                #expect(evaluator.instances[key]?.state == expected, "step \(i): tick at \(t)s")
            }
        }
    }

    @Test func oneInstancePerSeriesAndOnlyMatchingSeries() throws {
        let rule = AlertRule(name: "Hot", selector: try SeriesSelector.parse(#"temp{site="a"}"#), condition: .threshold(.greater, 50, clear: nil))
        var evaluator = AlertEvaluator(rules: [rule])
        let readings = [
            Reading(metric: "temp", labels: Labels(["site": "a", "device": "1"]), timestampMs: 0, value: 60),
            Reading(metric: "temp", labels: Labels(["site": "a", "device": "2"]), timestampMs: 0, value: 40),
            Reading(metric: "temp", labels: Labels(["site": "b", "device": "3"]), timestampMs: 0, value: 99),
            Reading(metric: "humidity", labels: Labels(["site": "a"]), timestampMs: 0, value: 99),
        ]
        let transitions = evaluator.observe(readings, now: 0)
        #expect(transitions.map(\.instance.labels["device"]) == ["1"])
        #expect(evaluator.instances.count == 2)
        let labels = try #require(transitions.first?.instance.labels)
        #expect(labels["alertname"] == "Hot" && labels["severity"] == "warning" && labels["metric"] == "temp" && labels["site"] == "a")
    }

    /// Rules that name their metric are found by it; rules selecting by a regex or by labels only
    /// still see every series, whatever the other rules name.
    @Test func rulesByNameRegexAndLabelsOnlyEachSeeTheirSeries() throws {
        let rules = [
            AlertRule(name: "Hot", selector: try SeriesSelector.parse("temp"), condition: .threshold(.greater, 50, clear: nil)),
            AlertRule(name: "Press", selector: try SeriesSelector.parse(#"{__name__=~"press.*"}"#), condition: .threshold(.greater, 50, clear: nil)),
            AlertRule(name: "SiteB", selector: try SeriesSelector.parse(#"{site="b"}"#), condition: .threshold(.greater, 50, clear: nil)),
        ]
        var evaluator = AlertEvaluator(rules: rules)
        let transitions = evaluator.observe([
            Reading(metric: "temp", labels: Labels(["site": "a"]), timestampMs: 0, value: 60),
            Reading(metric: "pressure", labels: Labels(["site": "a"]), timestampMs: 0, value: 60),
            Reading(metric: "humidity", labels: Labels(["site": "b"]), timestampMs: 0, value: 60),
            Reading(metric: "humidity", labels: Labels(["site": "a"]), timestampMs: 0, value: 60),
        ], now: 0)
        #expect(transitions.map { "\($0.instance.key.rule) \($0.instance.labels["metric"] ?? "")" }.sorted()
                == ["Hot temp", "Press pressure", "SiteB humidity"])
        var named = AlertEvaluator(rules: [rules[0]])
        #expect(named.observe([Reading(metric: "pressure", timestampMs: 0, value: 99)], now: 0).isEmpty)
        #expect(named.observe([Reading(metric: "temp", timestampMs: 0, value: 99)], now: 0).count == 1)
    }

    @Test func annotationsRenderLabelsValueAndUnit() throws {
        let rule = AlertRule(name: "Hot", selector: try SeriesSelector.parse("temp"), condition: .threshold(.greater, 50, clear: nil),
                             annotations: [("summary", try AnnotationTemplate("{{ $labels.device }} is at {{ $value }} {{ $unit }} ({{ $rule }})"))])
        var evaluator = AlertEvaluator(rules: [rule])
        let t = evaluator.observe(Reading(metric: "temp", labels: Labels(["device": "boiler"]), timestampMs: 0, value: 81.25, unit: "°C"), now: 0)
        #expect(t.first?.instance.annotations["summary"] == "boiler is at 81.25 °C (Hot)")
        #expect(throws: AnnotationTemplate.ParseError.self) { try AnnotationTemplate("{{ $value") }
        #expect(throws: AnnotationTemplate.ParseError.self) { try AnnotationTemplate("{{ value }}") }
    }

    @Test func restoredStateContinuesWithoutANewTransition() throws {
        let rule = AlertRule(name: "R", selector: try SeriesSelector.parse("t"), condition: .threshold(.greater, 80, clear: nil))
        var first = AlertEvaluator(rules: [rule])
        _ = first.observe(Reading(metric: "t", timestampMs: 0, value: 90), now: 0)
        let saved = try JSONDecoder().decode([AlertInstance].self, from: JSONEncoder().encode(Array(first.instances.values)))
        var second = AlertEvaluator(rules: [rule], restored: saved)
        #expect(second.observe(Reading(metric: "t", timestampMs: 1000, value: 95), now: 1000).isEmpty, "still firing: no new transition")
        #expect(second.observe(Reading(metric: "t", timestampMs: 2000, value: 10), now: 2000).first?.to == .resolved)
    }

    @Test func reloadKeepsStateOfRulesThatStayAndDropsRemovedOnes() throws {
        let a = AlertRule(name: "A", selector: try SeriesSelector.parse("t"), condition: .threshold(.greater, 80, clear: nil))
        let b = AlertRule(name: "B", selector: try SeriesSelector.parse("t"), condition: .threshold(.greater, 10, clear: nil))
        var evaluator = AlertEvaluator(rules: [a, b])
        _ = evaluator.observe(Reading(metric: "t", timestampMs: 0, value: 90), now: 0)
        let removed = evaluator.replaceRules([a])
        #expect(removed.map(\.rule) == ["B"])
        #expect(evaluator.instances.values.map(\.state) == [.firing])
    }

    @Test func plannerRepeatsAfterTheIntervalAndAcksStopRepeats() throws {
        let route = AlertRoute(severities: [], rules: [], notifiers: ["hook"], repeatInterval: .seconds(60))
        let planner = NotificationPlanner(routes: [route], notifiers: [])
        let rule = AlertRule(name: "R", selector: try SeriesSelector.parse("t"), condition: .threshold(.greater, 80, clear: nil))
        var evaluator = AlertEvaluator(rules: [rule])
        var instance = try #require(evaluator.observe(Reading(metric: "t", timestampMs: 0, value: 90), now: 0).first?.instance)
        #expect(planner.plan(&instance, silenced: false, now: 0).map(\.reason) == [.firing])
        #expect(planner.plan(&instance, silenced: false, now: 30_000).isEmpty)
        #expect(planner.plan(&instance, silenced: false, now: 60_000).map(\.reason) == [.repeat])
        instance.ack = AlertAck(by: "op", atMs: 60_000, untilMs: nil, comment: "")
        #expect(planner.plan(&instance, silenced: false, now: 200_000).isEmpty)
        instance.state = .resolved
        #expect(planner.plan(&instance, silenced: false, now: 210_000).map(\.reason) == [.resolved])
        #expect(planner.plan(&instance, silenced: false, now: 220_000).isEmpty, "one resolved notification")
    }

    @Test func silencedAlertsAreNotNotifiedUntilTheSilenceEnds() throws {
        let route = AlertRoute(severities: ["critical"], rules: [], notifiers: ["pager"], repeatInterval: .seconds(3600))
        let planner = NotificationPlanner(routes: [route], notifiers: [])
        var instance = AlertInstance(key: .init(rule: "R", series: "t"), labels: Labels(["alertname": "R"]), severity: "critical")
        instance.state = .firing
        #expect(planner.plan(&instance, silenced: true, now: 0).isEmpty)
        #expect(planner.plan(&instance, silenced: false, now: 1).map(\.reason) == [.firing])
        var warning = AlertInstance(key: .init(rule: "W", series: "t"), labels: .empty, severity: "warning")
        warning.state = .firing
        #expect(planner.plan(&warning, silenced: false, now: 0).isEmpty, "no route for warnings")
    }

    @Test func selfAlertRulesAreWellFormed() {
        #expect(SelfAlertRules.all.count == 5)
        for rule in SelfAlertRules.all {
            #expect(!rule.selector.matchers.isEmpty, "\(rule.name)")
            #expect(rule.annotations.first?.template.source.contains("{{") == true, "\(rule.name)")
        }
    }
}

@Suite("Notifier details")
struct NotifierDetailTests {
    @Test func logLinesShowURLsWithoutCredentialsOrQuery() {
        #expect(Secrets.redactedURL("https://user:pw@hooks.example.com/x?token=abc") == "https://hooks.example.com/x")
        #expect(Secrets.redactedURL("http://127.0.0.1:9093") == "http://127.0.0.1:9093")
    }

    @Test func theSignatureIsHexHMACSHA256OfTheBody() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        #expect(WebhookNotifier.signature(body: Array("what do ya want for nothing?".utf8), secret: "Jefe")
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func notificationsEncodeWithSortedKeysAndRoundTrip() throws {
        let notification = AlertNotification(id: "x", gateway: "g", status: "firing", reason: "firing", alert: "a", rule: "r",
                                             severity: "s", series: "t", labels: [:], annotations: [:], startsAt: "", generatorURL: "",
                                             createdAt: "")
        #expect(AlertNotification.decode(notification.encoded()) == notification)
        #expect(String(decoding: notification.encoded(), as: UTF8.self).hasPrefix(#"{"alert":"a","annotations":{}"#), "sorted keys")
    }
}
