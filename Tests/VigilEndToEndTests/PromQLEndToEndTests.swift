import Foundation
import Testing
import VigilTestSupport

/// The PromQL subset, answered by Vigil and by a real Prometheus holding the same samples (sent
/// there by Vigil's own remote write), query by query.
@Suite("PromQL subset agrees with Prometheus", .serialized)
struct PromQLEndToEndTests {
    static let queries = [
        "counter_total", #"gauge{site="a"}"#, "rate(counter_total[5m])", "increase(counter_total[2m])", "delta(gauge[5m])",
        "avg_over_time(gauge[3m])", "min_over_time(gauge[3m])", "max_over_time(gauge[3m])", "sum_over_time(gauge[1m])",
        "count_over_time(gauge[2m])", "sum by (site) (gauge)", "avg by (site) (rate(counter_total[5m]))", "max(gauge)",
        "min without (device) (gauge)", "count(gauge)", "gauge * 2 + 1", "gauge > 20", "2 * gauge", "gauge > bool 20",
        "-gauge", "(gauge - 20) / 4", "sum(rate(counter_total[5m])) * 60", "abs(gauge - 21)", "1 + 2 * 3", "2 ^ 3 ^ 2",
        "scalar(max(gauge)) + 1",
    ]

    @Test func instantAndRangeQueriesAgreeWithPrometheus() async throws {
        let prometheus = try await TSDB(.prometheus)
        defer { prometheus.kill() }
        // 20 minutes of two counters (one with a reset) and three gauges every 10 s, ending a minute ago.
        let directory = try TemporaryDirectory("promql")
        let end = (Int64(Date().timeIntervalSince1970) - 60) * 1000
        var lines = ["series,timestamp_ms,value"]
        for i in 0..<120 {
            let t = end - Int64(119 - i) * 10_000 + Int64(i % 3) * 7  // a little jitter, as real devices have
            lines.append("\"counter_total{device=\"\"c1\"\",site=\"\"a\"\"}\",\(t),\(Double(i * 5))")
            lines.append("\"counter_total{device=\"\"c2\"\",site=\"\"b\"\"}\",\(t),\(Double((i % 50) * 3) + 0.5)")
            for (d, site) in [("g1", "a"), ("g2", "a"), ("g3", "b")] {
                let value = 20 + 3 * sin(Double(i) / 7 + Double(d.last!.wholeNumberValue!)) + Double(i % 4) * 0.25
                lines.append("\"gauge{device=\"\"\(d)\"\",site=\"\"\(site)\"\"}\",\(t),\(value)")
            }
        }
        let csv = try directory.write("data.csv", lines.joined(separator: "\n") + "\n")
        let imported = try await vigil(["import", "--data-dir", directory.path("data"), "--max-age", "36500d", "--format", "csv", csv])
        #expect(imported.status == 0, "\(imported.stderr)")
        let config = try directory.write("vigil.yaml", """
            data_dir: ${VIGIL_DATA_DIR}
            http: {listen: 127.0.0.1:0, tls: off}
            auth: {tokens: [{name: t, sha256: \(TestCredentials.tokenSHA256(Self.token)), role: viewer}]}
            logging: {ingest_summary: 0}
            forward:
              remote_write:
                - {name: prom, url: "\(prometheus.writeURL)", start: oldest, interval: 200ms, delay: 0s, external_labels: {}}
            """)
        let gateway = try await RunningGateway(mqttURL: "mqtt://127.0.0.1:1", config: config, directory: directory)
        defer { gateway.process.stop() }
        try await eventually(within: .seconds(30), every: .milliseconds(200)) { try await prometheus.samples("gauge").count >= 360 }
        #expect(try await prometheus.samples("gauge").count == 360)

        let times = [end - 600_000, end - 301_000, end - 60_000, end, end + 90_000]
        for query in Self.queries {
            for t in times {
                let params = ["query": query, "time": String(format: "%.3f", Double(t) / 1000)]
                let ours = try await Self.vigilQuery(gateway, "/api/v1/query", params)
                let theirs = try await Self.prometheusQuery(prometheus, "/api/v1/query", params)
                #expect(Self.agree(ours, theirs), "\(query) at \(t): Vigil \(ours) vs Prometheus \(theirs)")
            }
        }
        for query in ["rate(counter_total[1m])", "sum by (site) (gauge)", "gauge", "max_over_time(gauge[2m]) - 1", "1 + 1"] {
            let params = ["query": query, "start": String(Double(end - 900_000) / 1000), "end": String(Double(end + 60_000) / 1000), "step": "30"]
            let ours = try await Self.vigilQuery(gateway, "/api/v1/query_range", params)
            let theirs = try await Self.prometheusQuery(prometheus, "/api/v1/query_range", params)
            #expect(Self.agree(ours, theirs), "range \(query): Vigil \(ours.count) series vs Prometheus \(theirs.count)")
        }
        let unsupported = try await Curl.get(gateway.baseURL + "/api/v1/query?query=" + "histogram_quantile(0.9,%20x)",
                                             headers: ["Authorization: Bearer \(Self.token)"])
        #expect(unsupported.status == 400 && unsupported.body.contains("function histogram_quantile is not supported"), "\(unsupported.body)")
    }

    static let token = "vgl_promql_test_token_000000000000"

    static func vigilQuery(_ gateway: RunningGateway, _ path: String, _ params: [String: String]) async throws -> [String: [(Double, Double)]] {
        let body = try await Curl.get(gateway.baseURL + path + "?" + form(params), headers: ["Authorization: Bearer \(token)"]).body
        return try parse(body)
    }

    static func prometheusQuery(_ db: TSDB, _ path: String, _ params: [String: String]) async throws -> [String: [(Double, Double)]] {
        let body = try await Curl.get("http://127.0.0.1:\(db.port)" + path + "?" + form(params)).body
        return try parse(body)
    }

    static func form(_ params: [String: String]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return params.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed)!)" }
            .joined(separator: "&")
    }

    /// Result → series labels (without the `gateway` label remote write adds) → [(t, v)].
    static func parse(_ body: String, query: String = "") throws -> [String: [(Double, Double)]] {
        guard let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
              object["status"] as? String == "success", let data = object["data"] as? [String: Any] else {
            throw TestFailure("not a success: \(body.prefix(300))")
        }
        var out: [String: [(Double, Double)]] = [:]
        func point(_ pair: [Any]) -> (Double, Double)? {
            guard let t = pair.first as? Double, let v = (pair.last as? String).flatMap(Double.init) else { return nil }
            return (t, v)
        }
        switch data["resultType"] as? String {
        case "scalar":
            if let p = (data["result"] as? [Any]).flatMap(point) { out["scalar"] = [p] }
        default:
            for series in data["result"] as? [[String: Any]] ?? [] {
                var labels = series["metric"] as? [String: String] ?? [:]
                labels["gateway"] = nil
                let key = labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
                if let value = series["value"] as? [Any], let p = point(value) { out[key] = [p] }
                if let values = series["values"] as? [[Any]] { out[key] = values.compactMap(point) }
            }
        }
        return out
    }

    static func agree(_ a: [String: [(Double, Double)]], _ b: [String: [(Double, Double)]]) -> Bool {
        guard Set(a.keys) == Set(b.keys) else { return false }
        for (key, points) in a {
            let other = b[key]!
            guard points.count == other.count else { return false }
            for (p, q) in zip(points, other) {
                guard abs(p.0 - q.0) < 0.0005 else { return false }
                if p.1.isNaN, q.1.isNaN { continue }
                guard abs(p.1 - q.1) <= 1e-9 * max(1, abs(q.1)) else { return false }
            }
        }
        return true
    }
}
