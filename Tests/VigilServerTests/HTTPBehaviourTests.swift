import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing
import VigilConsole
import VigilTestSupport
@testable import VigilServer

/// The gateway's HTTP behaviour with the gateway's own router and listener in this process
/// (HummingbirdTesting, plain HTTP on an ephemeral loopback port): who may open the live stream,
/// security headers, error shapes, the console's files. TLS, signals, restarts and brokers stay
/// in the end-to-end tests with the real binary.
@Suite("HTTP behaviour in process: upgrade matrix, headers, error shapes")
struct HTTPBehaviourTests {
    static let password = "in-process-password"
    static let token = "vgl_in_process_token_0123456789"

    /// Runs `body` against a gateway's HTTP side made from a config with these extra keys.
    static func withGateway(origins: [String] = [], _ body: @Sendable (any TestClientProtocol, Int) async throws -> Void) async throws {
        let directory = try TemporaryDirectory()
        let hash = TestCredentials.passwordHash(password)
        let tokenHash = TestCredentials.tokenSHA256(token)
        let path = try directory.write("vigil.yaml", """
            data_dir: \(directory.path("data"))
            http:
              listen: 127.0.0.1:0
              tls: off
              allowed_origins: [\(origins.joined(separator: ", "))]
            auth:
              users:
                - {name: viewer, password_hash: "\(hash)", role: viewer}
              tokens:
                - {name: grafana, sha256: \(tokenHash), role: viewer}
            """)
        let config = try VigilConfiguration.load(path: path, environment: [:])
        try FileManager.default.createDirectory(atPath: config.dataDir, withIntermediateDirectories: true)
        let logger = Logger(label: "test")
        let parts = try GatewayParts.open(config, process: .local(), logger: logger)
        let application = try GatewayRouter.application(parts, router: GatewayRouter.make(parts), logger: logger)
        try await application.test(.live) { client in
            try await body(client, try #require(client.port))
        }
    }

    /// A WebSocket upgrade of `/api/v1/live` (or `path`) with these extra header lines; the status answered.
    static func upgrade(port: Int, path: String = "/api/v1/live", _ headers: [String]) async throws -> Int? {
        let lines = ["GET \(path) HTTP/1.1", "Host: localhost:\(port)", "Upgrade: websocket", "Connection: Upgrade",
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"] + headers
        let request = Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8)
        let exchange = try await RawHTTP.exchange(port: port, [request], timeout: .seconds(2))
        return exchange.status
    }

    static func login(_ client: any TestClientProtocol) async throws -> String {
        let response = try await client.execute(uri: "/api/v1/login", method: .post, headers: [.contentType: "application/json"],
                                                body: ByteBuffer(string: #"{"username":"viewer","password":"\#(password)"}"#))
        #expect(response.status == .ok)
        let cookie = try #require(response.headers[.setCookie])
        return String(cookie.split(separator: ";")[0])  // vigil_session=<value>
    }

    @Test func liveUpgradesAreOriginCheckedAndAuthenticated() async throws {
        try await Self.withGateway { client, port in
            let cookie = "Cookie: " + (try await Self.login(client))
            let origin = "Origin: http://localhost:\(port)"
            let subprotocol = "Sec-WebSocket-Protocol: vigil.v1.json"
            // Cross-site WebSocket hijacking: a foreign or missing Origin with the session cookie.
            #expect(try await Self.upgrade(port: port, ["Origin: https://evil.example", cookie, subprotocol]) == 403)
            #expect(try await Self.upgrade(port: port, [cookie, subprotocol]) == 403)
            #expect(try await Self.upgrade(port: port, ["Origin: https://evil.example", "Authorization: Bearer \(Self.token)", subprotocol]) == 403)
            // No, forged or misplaced credentials.
            #expect(try await Self.upgrade(port: port, [origin, subprotocol]) == 401)
            #expect(try await Self.upgrade(port: port, [origin, "Cookie: vigil_session=forged", subprotocol]) == 401)
            #expect(try await Self.upgrade(port: port, path: "/api/v1/live?token=\(Self.token)", [origin, subprotocol]) == 400)
            // The protocol's own requirements.
            #expect(try await Self.upgrade(port: port, [origin, cookie]) == 400)  // no subprotocol
            #expect(try await Self.upgrade(port: port, path: "/api/v1/nothing", [origin, cookie, subprotocol]) == 404)
            // Accepted: the console's cookie, or a token, from the gateway's own origin.
            #expect(try await Self.upgrade(port: port, [origin, cookie, subprotocol]) == 101)
            #expect(try await Self.upgrade(port: port, [origin, "Authorization: Bearer \(Self.token)", subprotocol]) == 101)
            // A machine client (no Origin: not a browser) with a bearer token: allowed, since a
            // token is never an ambient credential. Without Origin a cookie never counts, even
            // beside a bearer header, and a wrong token is still 401.
            #expect(try await Self.upgrade(port: port, ["Authorization: Bearer \(Self.token)", subprotocol]) == 101)
            #expect(try await Self.upgrade(port: port, ["Authorization: Bearer vgl_wrong", cookie, subprotocol]) == 401)
            #expect(try await Self.upgrade(port: port, ["Authorization: Basic dmlld2VyOng=", subprotocol]) == 403)
            // A plain GET of the endpoint says what is missing, as JSON.
            let plain = try await client.execute(uri: "/api/v1/live", method: .get)
            #expect(plain.status.code >= 400)
            #expect(String(buffer: plain.body).contains(#""status":"error""#))
        }
    }

    @Test func allowedOriginsReplaceTheOwnOrigin() async throws {
        try await Self.withGateway(origins: ["https://console.example"]) { client, port in
            let cookie = "Cookie: " + (try await Self.login(client))
            let subprotocol = "Sec-WebSocket-Protocol: vigil.v1.json"
            #expect(try await Self.upgrade(port: port, ["Origin: https://console.example", cookie, subprotocol]) == 101)
            #expect(try await Self.upgrade(port: port, ["Origin: http://localhost:\(port)", cookie, subprotocol]) == 403)
        }
    }

    @Test func everyAnswerCarriesTheSecurityHeadersAndTheConsoleItsPolicy() async throws {
        try await Self.withGateway { client, _ in
            let page = try await client.execute(uri: "/", method: .get)
            #expect(page.status == .ok)
            let policy = try #require(page.headers[.contentSecurityPolicy])
            #expect(policy.contains("default-src 'self'") && policy.contains("frame-ancestors 'none'"), "\(policy)")
            #expect(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"), "\(policy)")
            #expect(page.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
            #expect(page.headers[.strictTransportSecurity] == nil, "no HSTS without TLS")
            #expect(String(buffer: page.body) == String(decoding: ConsoleAssets.page.bytes, as: UTF8.self))
            for file in ConsoleAssets.files {
                let response = try await client.execute(uri: file.path, method: .get)
                #expect(response.status == .ok, "\(file.path)")
                #expect(response.headers[.contentType] == file.contentType)
                #expect(response.body.readableBytes == file.bytes.count)
            }
            let healthz = try await client.execute(uri: "/healthz", method: .get)
            #expect(healthz.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
        }
    }

    @Test func errorsAreJSONWithAStatusAType() async throws {
        try await Self.withGateway { client, _ in
            let anonymous = try await client.execute(uri: "/api/v1/labels", method: .get)
            #expect(anonymous.status == .unauthorized)
            #expect(String(buffer: anonymous.body).hasPrefix(#"{"status":"error","errorType":""#))
            let bearer: HTTPFields = [.authorization: "Bearer \(Self.token)"]
            #expect(try await client.execute(uri: "/api/v1/labels", method: .get, headers: bearer).status == .ok)
            #expect(try await client.execute(uri: "/api/v1/labels", method: .get,
                                             headers: [.authorization: "Bearer vgl_wrong"]).status == .unauthorized)
            let bad = try await client.execute(uri: "/api/v1/query", method: .get, headers: bearer)
            #expect(bad.status == .badRequest)
            #expect(String(buffer: bad.body).contains(#""errorType":"bad_data""#))
            // A viewer may not ack (operator), and a change needs a JSON body.
            let ack = try await client.execute(uri: "/api/v1/alerts/ack", method: .post,
                                               headers: bearer.merging([.contentType: "application/json"]),
                                               body: ByteBuffer(string: #"{"id":"x"}"#))
            #expect(ack.status == .forbidden)
            // Bodies are typed: a field of the wrong type is named.
            let login = try await client.execute(uri: "/api/v1/login", method: .post, headers: [.contentType: "application/json"],
                                                 body: ByteBuffer(string: #"{"username":5,"password":"x"}"#))
            #expect(login.status == .badRequest)
            #expect(String(buffer: login.body).contains("'username' must be a string"), "\(String(buffer: login.body))")
            let notJSON = try await client.execute(uri: "/api/v1/login", method: .post, headers: [.contentType: "application/json"],
                                                   body: ByteBuffer(string: "[1,2"))
            #expect(notJSON.status == .badRequest)
        }
    }
}

extension HTTPFields {
    fileprivate func merging(_ other: HTTPFields) -> HTTPFields {
        var out = self
        for field in other { out.append(field) }
        return out
    }
}
