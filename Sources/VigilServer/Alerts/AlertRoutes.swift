import FoundationEssentials
import Hummingbird
import VigilAlerts
import VigilConfig
import VigilCore
import VigilIngest

/// The alert API (under `/api/v1`, authenticated):
///
/// - `GET alerts`: pending, firing and recently resolved alerts, with acks and silences (viewer)
/// - `GET rules`: the rules in force (viewer)
/// - `POST alerts/ack` `{"id", "comment"?, "duration"?}` / `POST alerts/unack` `{"id"}` (operator)
/// - `GET silences`, `POST silences` `{"matchers", "duration" | "ends_at", "comment"}`,
///   `DELETE silences/{id}` (operator for changes)
///
/// Changes take JSON bodies only: a cross-site form cannot send `application/json` without a
/// CORS preflight, which this API never grants (and the session cookie is SameSite=Strict).
enum AlertRoutes {
    static func add(to group: RouterGroup<VigilRequestContext>, center: AlertCenter) {
        group.get("alerts") { _, _ in
            let now = WallClock.nowMs()
            let views = center.list(now: now).map { AlertJSON.AlertView($0.instance, silencedBy: $0.silencedBy) }
            let silences = center.silences(now: now).map { AlertJSON.SilenceView($0, now: now) }
            return QueryRoutes.json(QueryJSON.success("{\"alerts\":\(AlertJSON.encode(views)),\"silences\":\(AlertJSON.encode(silences))}"))
        }
        group.get("rules") { _, _ in
            QueryRoutes.json(QueryJSON.success(AlertJSON.encode(center.rules.map(AlertJSON.RuleView.init))))
        }
        group.get("silences") { _, _ in
            let now = WallClock.nowMs()
            return QueryRoutes.json(QueryJSON.success(AlertJSON.encode(center.silences(now: now).map { AlertJSON.SilenceView($0, now: now) })))
        }

        let operators = group.group().add(middleware: RequireOperator())
        operators.post("alerts/ack") { request, context in
            let body = try await jsonBody(AckBody.self, request, context)
            guard let id = body.id else { return QueryRoutes.badData("'id' (the alert's id) is required") }
            let now = WallClock.nowMs()
            let until: Int64?
            switch end(of: body.duration, now: now) {
            case .invalid: return QueryRoutes.badData(DurationField.message)
            case .absent: until = nil
            case .ends(let ms): until = ms
            }
            let ack = AlertAck(by: context.principal?.name ?? "unknown", atMs: now, untilMs: until,
                               comment: String((body.comment ?? "").prefix(500)))
            return await answer { () async throws(AlertCenter.APIError) in
                let instance = try await center.acknowledge(id: id, ack: ack, now: now)
                return AlertJSON.encode(AlertJSON.AlertView(instance, silencedBy: []))
            }
        }
        operators.post("alerts/unack") { request, context in
            let body = try await jsonBody(AckBody.self, request, context)
            guard let id = body.id else { return QueryRoutes.badData("'id' (the alert's id) is required") }
            return await answer { () async throws(AlertCenter.APIError) in
                let instance = try await center.acknowledge(id: id, ack: nil, now: WallClock.nowMs())
                return AlertJSON.encode(AlertJSON.AlertView(instance, silencedBy: []))
            }
        }
        operators.post("silences") { request, context in
            let body = try await jsonBody(SilenceBody.self, request, context)
            guard let matchers = body.matchers, !matchers.isEmpty else {
                return QueryRoutes.badData("'matchers' is required, e.g. {alertname=\"DoorOpen\",device=\"d1\"}")
            }
            let now = WallClock.nowMs()
            let ends: Int64
            switch end(of: body.duration, now: now) {
            case .invalid: return QueryRoutes.badData(DurationField.message)
            case .ends(let ms): ends = ms
            case .absent:
                guard let text = body.endsAt, let ms = PayloadTimestamp.rfc3339(text) else {
                    return QueryRoutes.badData("'duration' (e.g. 2h) or 'ends_at' (RFC 3339, years 1-9999) is required")
                }
                ends = ms
            }
            guard ends > now else { return QueryRoutes.badData("the silence would end in the past") }
            let silence: Silence
            do {
                silence = try Silence(id: Secrets.hex(Secrets.randomBytes(8)), matchers: matchers, startsAtMs: now, endsAtMs: ends,
                                      createdBy: context.principal?.name ?? "unknown",
                                      comment: String((body.comment ?? "").prefix(500)))
            } catch {
                return QueryRoutes.badData("matchers: \(error)")
            }
            return await answer { () async throws(AlertCenter.APIError) in
                try await center.addSilence(silence)
                return AlertJSON.encode(AlertJSON.SilenceView(silence, now: now))
            }
        }
        operators.delete("silences/{id}") { _, context in
            let id = context.parameters.get("id") ?? ""
            return await answer { () async throws(AlertCenter.APIError) in
                try await center.expireSilence(id: id, now: WallClock.nowMs())
                return "{\"id\":\"\(JSONText.escape(id))\",\"expired\":true}"
            }
        }
    }

    enum DurationField {
        case absent, invalid, ends(Int64)
        static let message = "'duration' must be a duration such as 2h"
    }

    /// `now + duration` from the body's optional `"duration"` (ack expiry, silence length).
    static func end(of duration: String?, now: Int64) -> DurationField {
        guard let text = duration else { return .absent }
        guard let duration = ConfigValues.parseDuration(text), duration > .zero else { return .invalid }
        // parseDuration stops at ConfigValues.maxDuration (100 years): the sum cannot overflow.
        return .ends(now + duration.milliseconds)
    }

    static func answer(_ body: () async throws(AlertCenter.APIError) -> String) async -> Response {
        do {
            return QueryRoutes.json(QueryJSON.success(try await body()))
        } catch {
            switch error {
            case .notFound(let message): return QueryRoutes.json(QueryJSON.error("not_found", message), status: .notFound)
            case .invalid(let message): return QueryRoutes.badData(message)
            case .notSaved(let message): return QueryRoutes.json(QueryJSON.error("unavailable", message), status: .serviceUnavailable)
            }
        }
    }

    /// `POST alerts/ack` and `alerts/unack`.
    struct AckBody: Decodable {
        var id: String?
        var comment: String?
        var duration: String?
    }

    /// `POST silences`.
    struct SilenceBody: Decodable {
        var matchers: String?
        var duration: String?
        var endsAt: String?
        var comment: String?

        enum CodingKeys: String, CodingKey {
            case matchers, duration, comment
            case endsAt = "ends_at"
        }
    }

    /// A JSON object body of at most 16 KiB, decoded into `T`; a field of the wrong type is
    /// answered 400 with its name.
    static func jsonBody<T: Decodable>(_ type: T.Type, _ request: Request, _ context: VigilRequestContext) async throws -> T {
        guard request.headers[.contentType]?.lowercased().hasPrefix("application/json") == true else {
            throw HTTPError(.unsupportedMediaType, message: "send the body as application/json")
        }
        let buffer = try await request.body.collect(upTo: 16 * 1024)
        return try RequestBody.decode(T.self, from: buffer)
    }
}

/// Lets operators and admins through (viewers get 403); runs after `RequireRole` set the principal.
struct RequireOperator: RouterMiddleware {
    typealias Context = VigilRequestContext
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let principal = context.principal, principal.role >= .operator else {
            return APIErrors.response(.forbidden, "forbidden", "acknowledging and silencing alerts needs the operator role")
        }
        return try await next(request, context)
    }
}
