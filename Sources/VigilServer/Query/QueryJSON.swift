import VigilCore
import VigilStore

/// Responses shaped like Prometheus's HTTP API (`{"status":"success","data":…}`), written by hand:
/// query answers can hold hundreds of thousands of points, and building them as strings directly
/// is several times faster than going through Codable.
public enum QueryJSON {
    static func success(_ data: String) -> String { #"{"status":"success","data":"# + data + "}" }

    static func error(_ type: String, _ message: String) -> String {
        #"{"status":"error","errorType":""# + type + #"","error":""# + JSONText.escape(message) + #""}"#
    }

    static func matrix(_ series: [QuerySeries]) -> String {
        var out = #"{"resultType":"matrix","result":["#
        for (i, s) in series.enumerated() {
            if i > 0 { out += "," }
            out += #"{"metric":"# + JSONText.labels(s.labels) + #","values":["#
            for k in s.timestamps.indices {
                if k > 0 { out += "," }
                out += "[" + seconds(s.timestamps[k]) + ",\"" + value(s.values[k]) + "\"]"
            }
            out += "]}"
        }
        return out + "]}"
    }

    static func vector(_ samples: [(series: SeriesKey, timestampMs: Int64, value: Double)]) -> String {
        var out = #"{"resultType":"vector","result":["#
        for (i, s) in samples.enumerated() {
            if i > 0 { out += "," }
            out += #"{"metric":"# + JSONText.labels(s.series.labelsWithName) + #","value":["# + seconds(s.timestampMs) + ",\"" + value(s.value) + "\"]}"
        }
        return out + "]}"
    }

    static func strings(_ values: [String]) -> String {
        "[" + values.map { "\"" + JSONText.escape($0) + "\"" }.joined(separator: ",") + "]"
    }

    /// Unix seconds with millisecond precision, without going through a float.
    static func seconds(_ ms: Int64) -> String {
        let sign = ms < 0 ? "-" : ""
        let magnitude = ms.magnitude
        let fraction = String(magnitude % 1000)
        return sign + String(magnitude / 1000) + "." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }

    /// Shortest text that reads back to the same float64, as Prometheus writes values.
    static func value(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        return "\(v)"
    }

}
