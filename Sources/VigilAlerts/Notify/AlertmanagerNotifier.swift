import FoundationEssentials
import VigilCore

/// Alertmanager's `POST /api/v2/alerts`: one alert per request, labels and annotations as
/// Alertmanager wants them, `startsAt`, `endsAt`, `generatorURL`. A firing alert's `endsAt` is
/// four resend intervals ahead of the send (as Prometheus does): Alertmanager resolves it by
/// itself if Vigil falls silent, and the periodic resends keep moving it.
struct AlertmanagerNotifier: AlertNotifier {
    let name: String
    let settings: NotifierConfig.Alertmanager
    let http: HTTPNotifierClient
    let endpoint: String

    init(name: String, settings: NotifierConfig.Alertmanager, timeout: Duration) throws {
        self.name = name
        self.settings = settings
        endpoint = (settings.url.hasSuffix("/") ? String(settings.url.dropLast()) : settings.url) + "/api/v2/alerts"
        http = try HTTPNotifierClient(url: endpoint, caFile: settings.caFile, insecureSkipVerify: settings.insecureSkipVerify,
                                      timeout: timeout)
    }

    struct PostableAlert: Encodable {
        let labels: [String: String]
        let annotations: [String: String]
        let startsAt: String
        let endsAt: String
        let generatorURL: String
    }

    func send(_ notification: AlertNotification, body _: [UInt8]) async throws(NotifierError) {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var labels = notification.labels
        if labels["gateway"] == nil { labels["gateway"] = notification.gateway }
        var annotations = notification.annotations
        if let value = notification.value { annotations["value"] = AnnotationTemplate.formatValue(value) }
        let endsAt = notification.endsAt ?? RFC3339.format(now + 4 * settings.resendInterval.milliseconds)
        let alert = PostableAlert(labels: labels, annotations: annotations, startsAt: notification.startsAt, endsAt: endsAt,
                                  generatorURL: notification.generatorURL)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode([alert]) else { throw .rejected("cannot encode the alert") }
        try await http.post(body: Array(data), headers: settings.headers.map { ($0.key, $0.value) })
    }

    func shutdown() async { await http.shutdown() }
}
