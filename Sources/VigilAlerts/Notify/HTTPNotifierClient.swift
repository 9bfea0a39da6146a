import VigilCore
import VigilHTTPClient

/// The HTTP part the webhook and Alertmanager notifiers share: one endpoint per notifier (its
/// TLS trust settings and kept connection are its own), a POST with a timeout, and the status
/// mapped to retry or reject.
struct HTTPNotifierClient: Sendable {
    let endpoint: HTTPEndpoint
    let timeout: Duration

    init(url: String, caFile: String?, insecureSkipVerify: Bool, timeout: Duration) throws {
        endpoint = try HTTPEndpoint(url: url, caFile: caFile, insecureSkipVerify: insecureSkipVerify, connectTimeout: .seconds(5))
        self.timeout = timeout
    }

    func post(body: [UInt8], headers: [(String, String)]) async throws(NotifierError) {
        let shown = Secrets.redactedURL(endpoint.url.description)
        let response: HTTPClientResponse
        do {
            response = try await endpoint.post(headers: [("Content-Type", "application/json"), ("User-Agent", "vigil")] + headers,
                                               body: body, timeout: timeout)
        } catch {
            throw .retry("\(shown): \(error)")
        }
        switch response.status {
        case 200..<300: return
        case 408, 425, 429, 500...:
            throw .retry("\(shown): HTTP \(response.status) \(response.bodyText.prefix(200))")
        default:
            throw .rejected("\(shown): HTTP \(response.status) \(response.bodyText.prefix(200))")
        }
    }

    func shutdown() async { await endpoint.shutdown() }
}
