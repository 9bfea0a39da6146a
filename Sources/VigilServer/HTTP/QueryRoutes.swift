import FoundationEssentials
import Hummingbird
import Metrics
import NIOPosix
import VigilCore
import VigilLive
import VigilStore

/// The query API under `/api/v1/` (docs/query-api.md), shaped like Prometheus's HTTP API where it
/// fits. Parameters come from the URL or, for POST, from a form body, as in Prometheus. Store
/// reads run on the blocking thread pool.
enum QueryRoutes {
    static func add(to group: RouterGroup<VigilRequestContext>, store: MetricStore, limits: QueryBudget.Limits, units: SeriesMemory) {
        // Each query gets a budget: a timeout, a sample limit, and a stop when its client is gone.
        @Sendable func budget(_ context: VigilRequestContext) -> QueryBudget {
            let client = ClientWatch.watching(context.channel)
            return QueryBudget(limits, abandoned: { client.isGone })
        }
        group.on("query", method: .get) { request, context in try await instantQuery(request, store, budget(context)) }
        group.on("query", method: .post) { request, context in try await instantQuery(request, store, budget(context)) }
        group.on("query_range", method: .get) { request, context in try await queryRange(request, store, budget(context)) }
        group.on("query_range", method: .post) { request, context in try await queryRange(request, store, budget(context)) }
        group.on("series", method: .get) { request, _ in try await series(request, store) }
        group.on("series", method: .post) { request, _ in try await series(request, store) }
        // Grafana sends these as POST when its data source uses POST.
        group.get("labels") { _, _ in json(QueryJSON.success(QueryJSON.strings(store.labelNames()))) }
        group.post("labels") { _, _ in json(QueryJSON.success(QueryJSON.strings(store.labelNames()))) }
        group.get("label/{name}/values") { _, context in
            let name = context.parameters.get("name") ?? ""
            return json(QueryJSON.success(QueryJSON.strings(store.labelValues(name))))
        }
        group.get("last") { request, context in try await last(request, store, budget(context)) }
        group.get("latest") { request, context in try await latest(request, store, units, budget(context)) }
    }

    /// `GET|POST /api/v1/query`: a PromQL instant query at `time` (default now).
    static func instantQuery(_ request: Request, _ store: MetricStore, _ budget: QueryBudget) async throws -> Response {
        let form = try await parameters(request)
        let now = WallClock.nowMs()
        guard let text = form.first("query"), !text.isEmpty else { return badData("missing parameter 'query'") }
        guard let time = form.first("time").map({ QueryParameters.parseTime($0, nowMs: now) }) ?? now else {
            return badData("time: expected unix seconds, RFC 3339 or -1h")
        }
        return try await PromQLAnswer.evaluate(text, steps: [time], range: false, store: store, budget: budget)
    }

    /// `GET|POST /api/v1/query_range`: PromQL over [start, end] every `step`, as Prometheus; with
    /// `agg` (and `by`), Vigil's own step aggregation of a selector, which reads the rollups.
    static func queryRange(_ request: Request, _ store: MetricStore, _ budget: QueryBudget) async throws -> Response {
        let form = try await parameters(request)
        let now = WallClock.nowMs()
        guard let text = form.first("query"), !text.isEmpty else { return badData("missing parameter 'query' (a series selector)") }
        if form.first("agg") == nil, form.first("by") == nil {
            guard let start = form.first("start").map({ QueryParameters.parseTime($0, nowMs: now) }) ?? (now - 3_600_000),
                  let end = form.first("end").map({ QueryParameters.parseTime($0, nowMs: now) }) ?? now else {
                return badData("start and end: expected unix seconds, RFC 3339 or -1h")
            }
            guard let step = form.first("step").map(QueryParameters.parseStep) ?? QueryParameters.defaultStep(start: start, end: end) else {
                return badData("step: expected a duration from 1ms to 366d, such as 15s, or a number of seconds")
            }
            guard end >= start else { return badData("end timestamp must not be before start time") }
            guard (end - start) / step < 11_000 else {
                return badData("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")
            }
            let steps = Array(stride(from: start, through: end, by: Int(step)))
            return try await PromQLAnswer.evaluate(text, steps: steps, range: true, store: store, budget: budget)
        }
        let selector: SeriesSelector
        do { selector = try SeriesSelector.parse(text) } catch { return badData("query: \(error)") }
        guard let start = form.first("start").map({ QueryParameters.parseTime($0, nowMs: now) }) ?? (now - 3_600_000) else {
            return badData("start: expected unix seconds, RFC 3339 or -1h")
        }
        guard let end = form.first("end").map({ QueryParameters.parseTime($0, nowMs: now) }) ?? now else {
            return badData("end: expected unix seconds, RFC 3339 or now")
        }
        guard let step = form.first("step").map(QueryParameters.parseStep) ?? QueryParameters.defaultStep(start: start, end: end) else {
            return badData("step: expected a duration from 1ms to 366d, such as 15s, or a number of seconds")
        }
        guard let aggregation = QueryParameters.parseAggregation(form.first("agg") ?? "avg") else {
            return badData("agg: expected one of \(RangeQuery.Aggregation.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let groupBy = form.first("by").map(QueryParameters.parseGroupBy)
        let query = RangeQuery(selector: selector, start: start, end: end, step: step, aggregation: aggregation, groupBy: groupBy)
        do {
            let result = try await NIOThreadPool.singleton.runIfActive { try store.query(query, budget: budget) }
            return json(QueryJSON.success(QueryJSON.matrix(result)))
        } catch let error as QueryError {
            return badData(error.description)
        } catch let error as StoreError {
            return aborted(error)
        }
    }

    static func series(_ request: Request, _ store: MetricStore) async throws -> Response {
        let form = try await parameters(request)
        let matchers = form.all("match[]")
        guard !matchers.isEmpty else { return badData("missing parameter 'match[]' (a series selector)") }
        var seen = Set<SeriesKey>()
        var keys: [SeriesKey] = []
        for text in matchers {
            do {
                for key in store.series(try SeriesSelector.parse(text)) where seen.insert(key).inserted { keys.append(key) }
            } catch {
                return badData("match[]: \(error)")
            }
        }
        return json(QueryJSON.success("[" + keys.map { JSONText.labels($0.labelsWithName) }.joined(separator: ",") + "]"))
    }

    static func last(_ request: Request, _ store: MetricStore, _ budget: QueryBudget) async throws -> Response {
        let form = try await parameters(request)
        let text = form.first("match[]") ?? form.first("query") ?? ""
        guard !text.isEmpty else { return badData("missing parameter 'match[]' (a series selector)") }
        let selector: SeriesSelector
        do { selector = try SeriesSelector.parse(text) } catch { return badData("match[]: \(error)") }
        do {
            let values = try await NIOThreadPool.singleton.runIfActive { try store.lastValues(selector, budget: budget) }
            return json(QueryJSON.success(QueryJSON.vector(values)))
        } catch let error as StoreError {
            return aborted(error)
        }
    }

    /// `GET /api/v1/latest`: the newest reading of every series `match[]` selects (all without
    /// it), shaped as the live protocol's readings (series, metric, labels, t, v, unit): the
    /// console's catalog of the fleet, from which it builds its tree, search and filters.
    static func latest(_ request: Request, _ store: MetricStore, _ units: SeriesMemory, _ budget: QueryBudget) async throws -> Response {
        let form = try await parameters(request)
        let selector: SeriesSelector
        do { selector = try SeriesSelector.parse(form.first("match[]") ?? #"{__name__=~".+"}"#) } catch { return badData("match[]: \(error)") }
        do {
            let values = try await NIOThreadPool.singleton.runIfActive { try store.lastValues(selector, budget: budget) }
            let readings = LiveMessages.readings(values, units: units, allocator: ByteBufferAllocator())
            return json(QueryJSON.success("[" + readings.joined(separator: ",") + "]"))
        } catch let error as StoreError {
            return aborted(error)
        }
    }

    // MARK: Helpers

    struct Form {
        var pairs: [(String, String)]
        func first(_ name: String) -> String? { pairs.first { $0.0 == name }?.1 }
        func all(_ name: String) -> [String] { pairs.filter { $0.0 == name }.map(\.1) }
    }

    /// URL query parameters, plus a form-encoded body on POST (at most 1 MiB).
    static func parameters(_ request: Request) async throws -> Form {
        var text = request.uri.query ?? ""
        if request.method == .post {
            let body = try await request.body.collect(upTo: 1 << 20)
            if !text.isEmpty { text += "&" }
            text += String(buffer: body)
        }
        return Form(pairs: formPairs(text))
    }

    /// `a=1&b=x+y` (URL query or form body) → name/value pairs, percent- and plus-decoded.
    static func formPairs(_ text: String) -> [(String, String)] {
        text.split(separator: "&").map { item in
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                String(s).replacing("+", with: " ").removingPercentEncoding() ?? String(s)
            }
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }

    static func json(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func badData(_ message: String) -> Response { json(QueryJSON.error("bad_data", message), status: .badRequest) }

    /// A query its budget stopped, answered as Prometheus does (503 `timeout`, 422 `execution`),
    /// and counted in `vigil_query_aborted_total{reason}`. Other store errors stay errors.
    static func aborted(_ error: StoreError) -> Response {
        guard case .queryAborted(let reason, let message) = error else {
            return json(QueryJSON.error("internal", error.description), status: .internalServerError)
        }
        Counter(label: "vigil_query_aborted_total", dimensions: [("reason", reason.rawValue)]).increment()
        switch reason {
        case .timeout: return json(QueryJSON.error("timeout", message), status: .serviceUnavailable)
        case .tooManySamples: return json(QueryJSON.error("execution", message), status: .unprocessableContent)
        case .cancelled: return json(QueryJSON.error("canceled", message), status: .serviceUnavailable)
        }
    }
}
