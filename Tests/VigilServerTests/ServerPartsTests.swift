import Foundation
import Logging
import Testing
import VigilCore
import VigilTestSupport
@testable import VigilServer

@Suite("TLS provisioning")
struct TLSProvisioningTests {
    @Test func selfSignedIsCreatedOnceThenReused() throws {
        let directory = try TemporaryDirectory()
        let logger = Logger(label: "test")
        let first = try #require(try TLSProvisioning.load(.selfSigned, dataDir: directory.url.path, gatewayName: "t", logger: logger))
        let second = try #require(try TLSProvisioning.load(.selfSigned, dataDir: directory.url.path, gatewayName: "t", logger: logger))
        #expect(first.fingerprint == second.fingerprint)
        #expect(first.fingerprint.split(separator: ":").count == 32)
        let keyPath = directory.path("tls/self-signed.key")
        let mode = try FileManager.default.attributesOfItem(atPath: keyPath)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    /// Tests/Fixtures/tls-self-signed-v1: what releases before the switch to libcrypto wrote
    /// (swift-certificates, a PKCS#8 key from swift-crypto) is loaded and kept, not replaced.
    @Test func theSelfSignedCertificateOfThePreviousReleaseIsKept() throws {
        let fixture = TestEnvironment.packageRoot.appendingPathComponent("Tests/Fixtures/tls-self-signed-v1").path
        let expected = "0B:C2:68:CB:07:82:6A:CB:0A:41:57:6D:61:EC:5B:7A:79:5E:FD:BD:81:A8:C2:78:4F:16:87:13:34:89:C3:CF"
        let directory = try TemporaryDirectory()
        let logger = Logger(label: "test")
        try FileManager.default.createDirectory(atPath: directory.path("tls"), withIntermediateDirectories: true)
        for name in ["self-signed.crt", "self-signed.key"] {
            try FileManager.default.copyItem(atPath: fixture + "/" + name, toPath: directory.path("tls/" + name))
        }
        let files = HTTPSettings.TLS.files(certificate: directory.path("tls/self-signed.crt"), key: directory.path("tls/self-signed.key"))
        #expect(try TLSProvisioning.load(files, dataDir: "/nonexistent", gatewayName: "t", logger: logger)?.fingerprint == expected)
        let reused = try #require(try TLSProvisioning.load(.selfSigned, dataDir: directory.url.path, gatewayName: "t", logger: logger))
        // Renewed only within 30 days of its expiry (2027-11-30).
        let renewalStarts = Date(timeIntervalSince1970: 1_827_610_359 - 30 * 86_400)
        #expect((reused.fingerprint == expected) == (Date() < renewalStarts))
    }

    @Test func configuredFilesAreLoadedAndGarbageIsExplained() throws {
        let directory = try TemporaryDirectory()
        let logger = Logger(label: "test")
        _ = try TLSProvisioning.load(.selfSigned, dataDir: directory.url.path, gatewayName: "t", logger: logger)
        let files = HTTPSettings.TLS.files(certificate: directory.path("tls/self-signed.crt"), key: directory.path("tls/self-signed.key"))
        #expect(try TLSProvisioning.load(files, dataDir: "/nonexistent", gatewayName: "t", logger: logger) != nil)
        let garbage = try directory.write("garbage.pem", "not a certificate")
        #expect {
            try TLSProvisioning.load(.files(certificate: garbage, key: garbage), dataDir: "/x", gatewayName: "t", logger: logger)
        } throws: { error in
            "\(error)".hasPrefix("http.tls.cert: \(garbage) is not a PEM certificate")
        }
        #expect(try TLSProvisioning.load(.off, dataDir: "/x", gatewayName: "t", logger: logger) == nil)
    }
}

@Suite("Readiness, log lines, origins")
struct ServerPartsTests {
    @Test func readinessNeedsEveryConnectedSource() {
        var up = SourceStatus(name: "mqtt/a", kind: "mqtt")
        up.state = .connected
        var down = SourceStatus(name: "mqtt/b", kind: "mqtt")
        down.state = .disconnected
        down.detail = "Connection \"refused\""
        #expect(Readiness.evaluate(sources: [], storeError: nil).ready)
        #expect(Readiness.evaluate(sources: [up], storeError: nil).ready)
        let report = Readiness.evaluate(sources: [up, down], storeError: nil)
        #expect(!report.ready)
        #expect(!Readiness.evaluate(sources: [up], storeError: "disk full").ready)
        #expect(report.json == #"{"status":"not ready","checks":[{"name":"store","ok":true},{"name":"mqtt/a","ok":true,"state":"connected"},{"name":"mqtt/b","ok":false,"state":"disconnected","detail":"Connection \"refused\""}]}"#)
    }

    @Test func textAndJSONLogLines() {
        let text = VigilLogHandler.textLine(level: .info, label: "vigil", message: "hello",
                                            metadata: ["b": "two words", "a": "1"])
        #expect(text.hasSuffix(" info vigil: hello a=1 b=\"two words\""))
        let json = VigilLogHandler.jsonLine(level: .warning, label: "vigil", message: "say \"hi\"\n", metadata: ["k": "v"])
        #expect(json.hasSuffix(#""level":"warning","logger":"vigil","msg":"say \"hi\"\n","k":"v"}"#))
        let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: String]
        #expect(object?["msg"] == "say \"hi\"\n")
    }

    @Test func timestampsAreRFC3339WithMilliseconds() {
        let stamp = VigilLogHandler.timestamp()
        #expect(stamp.count == 24)
        #expect(stamp.hasSuffix("Z"))
    }

    @Test(arguments: [
        ("https://Console.Example", "https://console.example"), ("https://a.example:443/", "https://a.example"),
        ("https://a.example:8443", "https://a.example:8443"), ("http://127.0.0.1:80", "http://127.0.0.1"),
    ])
    func originsAreNormalized(input: String, expected: String) {
        #expect(HTTPSettings.normalizeOrigin(input) == expected)
    }

    @Test(arguments: ["ftp://a.example", "https://a.example/x", "a.example", "https://user@a.example"])
    func nonOriginsAreRefused(input: String) {
        #expect(HTTPSettings.normalizeOrigin(input) == nil)
    }

    @Test func bcryptHashShape() {
        #expect(AuthSettings.isBcryptHash("$2b$12$" + String(repeating: "a", count: 53)))
        #expect(!AuthSettings.isBcryptHash("$2b$12$" + String(repeating: "a", count: 52)))
        #expect(!AuthSettings.isBcryptHash("$1$12$" + String(repeating: "a", count: 54)))
    }
}
