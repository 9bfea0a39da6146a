import Foundation
import Testing
import VigilHTTPClient
import VigilTestSupport

@Suite("HTTP client URLs")
struct HTTPURLTests {
    @Test func urlsSplitIntoWhatARequestNeeds() throws {
        let plain = try HTTPURL("http://127.0.0.1:9095/hook?x=1#frag")
        #expect(!plain.secure && plain.host == "127.0.0.1" && plain.port == 9095 && plain.target == "/hook?x=1")
        #expect(plain.hostHeader == "127.0.0.1:9095" && plain.credentials == nil)
        let secure = try HTTPURL("HTTPS://user:p%40ss@example.org")
        #expect(secure.secure && secure.host == "example.org" && secure.port == 443 && secure.target == "/")
        #expect(secure.credentials == "user:p@ss" && secure.hostHeader == "example.org")
        let v6 = try HTTPURL("https://[::1]:8443/api/v1/write")
        #expect(v6.host == "::1" && v6.port == 8443 && v6.hostHeader == "[::1]:8443")
        #expect(try HTTPURL("http://h?q").target == "/?q")
    }

    @Test func badURLsSayWhat() {
        for (text, words) in [("ftp://h/", "scheme"), ("h:80/x", "no scheme"), ("http:///x", "no host"),
                              ("http://h:0/", "port"), ("http://h:99999/", "port"), ("http://[::1/", "unclosed"),
                              ("http://u:%zz@h/", "percent")] {
            #expect {
                try HTTPURL(text)
            } throws: { error in
                "\(error)".contains(words)
            }
        }
    }
}

/// The client against a real server (Python's http.server in scripts/webhook_sink.py) on
/// loopback, over HTTP and over TLS with certificates made by the openssl command.
@Suite("HTTP client against a real server")
struct HTTPEndpointTests {
    static func post(_ endpoint: HTTPEndpoint, _ text: String = "{}", timeout: Duration = .seconds(5)) async throws(HTTPClientError)
        -> HTTPClientResponse {
        try await endpoint.post(headers: [("Content-Type", "application/json")], body: Array(text.utf8), timeout: timeout)
    }

    @Test func postsReuseOneConnectionAndSurviveTheServerRestarting() async throws {
        let port = TestEnvironment.freePort()
        var sink = try await WebhookSink(port: port, keepAlive: true)
        let endpoint = try HTTPEndpoint(url: "http://user:secret@127.0.0.1:\(port)/hook?a=b")
        for index in 0..<5 {
            #expect(try await Self.post(endpoint, "{\"n\":\(index)}").status == 200)
        }
        let records = try await sink.waitFor(5)
        #expect(Set(records.compactMap { $0["peer"] as? Int }).count == 1, "five requests, one connection")
        #expect(records.first?["path"] as? String == "/hook?a=b")
        let headers = records.first?["headers"] as? [String: String]
        #expect(headers?["authorization"] == "Basic " + Data("user:secret".utf8).base64EncodedString())
        #expect((records.last?["body"] as? [String: Int])?["n"] == 4)

        // The kept connection dies with the server; the next request goes out on a new one.
        sink.stop()
        sink = try await WebhookSink(port: port, keepAlive: true)
        #expect(try await Self.post(endpoint).status == 200)
        try await sink.waitFor(1)
        await endpoint.shutdown()
        await #expect(throws: HTTPClientError.shutDown) { try await Self.post(endpoint) }
        sink.stop()
    }

    @Test func failuresSayWhyInWords() async throws {
        let closed = try HTTPEndpoint(url: "http://127.0.0.1:\(TestEnvironment.freePort())/")
        await #expect { try await Self.post(closed) } throws: { "\($0)".contains("connection refused") }

        let slow = try await WebhookSink(delay: 3)
        let endpoint = try HTTPEndpoint(url: slow.url)
        let started = ContinuousClock.now
        await #expect(throws: HTTPClientError.timeout) { try await Self.post(endpoint, timeout: .milliseconds(500)) }
        #expect(ContinuousClock.now - started < .seconds(2))
        slow.stop()

        #expect(throws: HTTPClientError.self) { try HTTPEndpoint(url: "https://127.0.0.1/", caFile: "/nonexistent/ca.pem") }
    }

    @Test func httpsVerifiesTheServerAgainstTheCAAndTheHostName() async throws {
        let directory = try TemporaryDirectory("vigil-https-client")
        let certificates = try await TestCertificates(in: directory)
        let tls = (certificate: certificates.serverCertificate, key: certificates.serverKey)
        let sink = try await WebhookSink(tls: tls, keepAlive: true)

        let trusted = try HTTPEndpoint(url: sink.url, caFile: certificates.caCertificate)
        #expect(try await Self.post(trusted).status == 200)
        #expect(try await Self.post(trusted).status == 200)

        // The system's store does not know the test CA.
        let untrusted = try HTTPEndpoint(url: sink.url)
        await #expect { try await Self.post(untrusted) } throws: { "\($0)".contains("certificate was refused") }

        let skipping = try HTTPEndpoint(url: sink.url, insecureSkipVerify: true)
        #expect(try await Self.post(skipping).status == 200)

        let byName = try HTTPEndpoint(url: "https://localhost:\(sink.port)/hook", caFile: certificates.caCertificate)
        #expect(try await Self.post(byName).status == 200)
        let records = try await sink.waitFor(4)
        #expect(Set(records.prefix(2).compactMap { $0["peer"] as? Int }).count == 1, "the TLS connection is kept too")
        sink.stop()

        // The certificate names 127.0.0.1 and localhost, not 127.0.0.2.
        let elsewhere = try await WebhookSink(host: "127.0.0.2", tls: tls)
        let mismatched = try HTTPEndpoint(url: elsewhere.url, caFile: certificates.caCertificate)
        await #expect { try await Self.post(mismatched) } throws: { "\($0)".contains("mismatch") }
        elsewhere.stop()
    }
}
