import AsyncHTTPClient
import FoundationEssentials
import NIOCore
import NIOHTTP1
import NIOSSL
import VigilCore

/// The HTTP part the webhook and Alertmanager notifiers share: one AsyncHTTPClient per notifier
/// (its TLS trust settings are per client), a POST with a timeout, and the status mapped to retry
/// or reject.
struct HTTPNotifierClient: Sendable {
    let client: HTTPClient
    let timeout: Duration

    init(caFile: String?, insecureSkipVerify: Bool, timeout: Duration) throws {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile { tls.trustRoots = .file(caFile) }
        if insecureSkipVerify { tls.certificateVerification = .none }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls, redirectConfiguration: .disallow)
        configuration.timeout = .init(connect: .seconds(5))
        // A refused connection is an answer: fail the attempt now and let our own backoff retry,
        // rather than AsyncHTTPClient retrying the connect until the request deadline.
        configuration.connectionPool.retryConnectionEstablishment = false
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.timeout = timeout
    }

    func post(url: String, body: [UInt8], headers: [(String, String)]) async throws(NotifierError) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "vigil")
        for (name, value) in headers { request.headers.replaceOrAdd(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        let shown = Secrets.redactedURL(url)
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .milliseconds(timeout.milliseconds))
        } catch {
            throw .retry("\(shown): \(Self.describe(error))")
        }
        let text = (try? await response.body.collect(upTo: 4096)).map { String(buffer: $0) } ?? ""
        let status = Int(response.status.code)
        switch status {
        case 200..<300: return
        case 408, 425, 429, 500...:
            throw .retry("\(shown): HTTP \(status) \(text.prefix(200))")
        default:
            throw .rejected("\(shown): HTTP \(status) \(text.prefix(200))")
        }
    }

    func shutdown() async { try? await client.shutdown() }

    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout: return "connect timed out"
            case .deadlineExceeded: return "timed out"
            default: return "\(error)"
            }
        }
        return "\(error)"
    }
}
