import Hummingbird
import VigilCore

/// `/healthz` (the process answers), `/readyz` (store writable, sources connected) and
/// `/metrics` (Prometheus text format). None of them needs a login: they are what a supervisor,
/// a load balancer or a Prometheus server reads.
enum OperationalRoutes {
    static func add<Context: RequestContext>(to router: Router<Context>, metrics: MetricsExposition, board: SourceStatusBoard,
                    storeHealth: StoreHealth) {
        router.get("/healthz") { _, _ in
            textResponse("ok\n")
        }
        router.get("/readyz") { _, _ in
            let report = Readiness.evaluate(sources: board.snapshot(), storeError: storeHealth.lastError)
            var response = textResponse(report.json + "\n", contentType: "application/json")
            response.status = report.ready ? .ok : .serviceUnavailable
            return response
        }
        router.get("/metrics") { _, _ in
            textResponse(metrics.render(), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
    }

    static func textResponse(_ text: String, contentType: String = "text/plain; charset=utf-8") -> Response {
        Response(status: .ok, headers: [.contentType: contentType, .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// Whether the gateway is ready to do its job: the store open and its last flush committed, and
/// every configured source connected.
struct Readiness {
    let ready: Bool
    let json: String

    static func evaluate(sources: [SourceStatus], storeError: String?) -> Readiness {
        var checks: [String] = []
        var ready = storeError == nil
        var store = "{\"name\":\"store\",\"ok\":\(storeError == nil)"
        if let storeError { store += ",\"detail\":\"\(JSONText.escape(storeError))\"" }
        checks.append(store + "}")
        for source in sources {
            let ok = source.state == .connected || !source.decidesReadiness
            ready = ready && ok
            var check = "{\"name\":\"\(JSONText.escape(source.name))\",\"ok\":\(ok),\"state\":\"\(source.state.rawValue)\""
            if !source.detail.isEmpty { check += ",\"detail\":\"\(JSONText.escape(source.detail))\"" }
            checks.append(check + "}")
        }
        let json = "{\"status\":\"\(ready ? "ready" : "not ready")\",\"checks\":[\(checks.joined(separator: ","))]}"
        return Readiness(ready: ready, json: json)
    }

}
