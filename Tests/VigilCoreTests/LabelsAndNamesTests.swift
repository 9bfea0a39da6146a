import Testing
import VigilCore

@Suite("Labels, series keys and Prometheus name rules")
struct LabelsAndNamesTests {
    @Test func labelsAreOrderIndependent() {
        let a = Labels(["site": "a", "device": "boiler-1"])
        var b = Labels()
        b["device"] = "boiler-1"
        b["site"] = "a"
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
        #expect(a.description == #"{device="boiler-1",site="a"}"#)
    }

    @Test func settingNilRemovesALabel() {
        var labels = Labels(["a": "1", "b": "2"])
        labels["a"] = nil
        #expect(labels.description == #"{b="2"}"#)
        #expect(labels["a"] == nil)
    }

    @Test func labelValuesAreEscapedInSelectorForm() {
        let key = SeriesKey(metric: "m", labels: Labels(["x": "a\"b\\c\nd"]))
        #expect(key.description == #"m{x="a\"b\\c\nd"}"#)
    }

    @Test(arguments: [
        ("temperature", true), ("node:cpu_seconds:rate5m", true), ("_x", true),
        ("9lives", false), ("temp-c", false), ("", false), ("température", false),
    ])
    func metricNameValidity(name: String, valid: Bool) {
        #expect(NameRules.isValidMetricName(name) == valid)
    }

    @Test(arguments: [("site", true), ("_x", true), ("__name__", false), ("a:b", false), ("1a", false)])
    func labelNameValidity(name: String, valid: Bool) {
        #expect(NameRules.isValidLabelName(name) == valid)
    }

    @Test(arguments: [
        ("temperature", "temperature"), ("temp-°C", "temp_C"), ("power.kW", "power_kW"),
        ("1st floor", "_1st_floor"), ("a--b__c", "a_b_c"), ("x:y", "x:y"),
    ])
    func metricNamesAreSanitized(raw: String, expected: String) {
        #expect(NameRules.sanitizeMetricName(raw) == expected)
    }

    @Test func nothingUsableGivesNil() {
        #expect(NameRules.sanitizeMetricName("") == nil)
        #expect(NameRules.sanitizeMetricName("°°°") == nil)
        #expect(NameRules.sanitizeLabelName("__") == nil)
        #expect(NameRules.sanitizeLabelName("__meta") == "_meta")
    }
}

@Suite("RFC 3339 timestamps")
struct RFC3339Tests {
    @Test func millisecondsInUTC() {
        #expect(RFC3339.format(0) == "1970-01-01T00:00:00.000Z")
        #expect(RFC3339.format(1_764_061_200_123) == "2025-11-25T09:00:00.123Z")
        #expect(RFC3339.format(-1) == "1969-12-31T23:59:59.999Z")
    }
}
