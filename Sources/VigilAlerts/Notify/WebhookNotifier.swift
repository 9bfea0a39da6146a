import VigilCrypto
import VigilCore

/// POSTs Vigil's notification JSON (see docs/alerts.md). With a secret, the body is signed:
/// `X-Vigil-Signature: sha256=<hex HMAC-SHA256(secret, body)>`. Every request carries
/// `X-Vigil-Notification-Id`, the same on each retry, so receivers can drop duplicates.
struct WebhookNotifier: AlertNotifier {
    let name: String
    let settings: NotifierConfig.Webhook
    let http: HTTPNotifierClient

    init(name: String, settings: NotifierConfig.Webhook, timeout: Duration) throws {
        self.name = name
        self.settings = settings
        http = try HTTPNotifierClient(url: settings.url, caFile: settings.caFile, insecureSkipVerify: settings.insecureSkipVerify, timeout: timeout)
    }

    func send(_ notification: AlertNotification, body: [UInt8]) async throws(NotifierError) {
        var headers = settings.headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        headers.append(("X-Vigil-Notification-Id", notification.id))
        if let secret = settings.secret {
            headers.append(("X-Vigil-Signature", "sha256=" + Self.signature(body: body, secret: secret.value)))
        }
        try await http.post(body: body, headers: headers)
    }

    static func signature(body: [UInt8], secret: String) -> String {
        Secrets.hex(Digest.hmacSHA256(key: Array(secret.utf8), message: body))
    }

    func shutdown() async { await http.shutdown() }
}
