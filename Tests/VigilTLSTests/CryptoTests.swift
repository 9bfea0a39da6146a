import Foundation
import Testing
import VigilCrypto
import VigilTestSupport

/// VigilCrypto against published test vectors and against the openssl command's reading of
/// what it generates.
@Suite("Hashes, HMAC and certificates on libcrypto")
struct CryptoTests {
    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    @Test func digestsMatchPublishedVectors() {
        // FIPS 180-2 "abc"; the empty string.
        #expect(Self.hex(Digest.sha256(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Self.hex(Digest.sha256([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Self.hex(Digest.sha1(Array("abc".utf8))) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        // RFC 6455 §1.3: the sample key's Sec-WebSocket-Accept.
        let accept = Digest.sha1(Array("dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11".utf8))
        #expect(Data(accept).base64EncodedString() == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        // RFC 4231 test case 2.
        #expect(Self.hex(Digest.hmacSHA256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8)))
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func theSelfSignedCertificateIsWhatBrowsersAndOpenSSLExpect() async throws {
        let directory = try TemporaryDirectory("vigil-self-signed")
        let generated = try SelfSignedCertificate(commonName: "Vigil gateway test", organization: "Vigil (self-signed)",
                                                  dnsNames: ["localhost", "box-7"], ipAddresses: ["127.0.0.1", "::1"],
                                                  validitySeconds: 365 * 86_400)
        #expect(generated.privateKeyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        let certificatePath = try directory.write("cert.pem", generated.certificatePEM)
        let keyPath = try directory.write("key.pem", generated.privateKeyPEM)
        let openssl = try TestEnvironment.tool("openssl", package: "openssl")
        let text = try ManagedProcess(openssl, ["x509", "-in", certificatePath, "-noout", "-text"], directory: directory, name: "openssl")
        #expect(try await text.finish() == 0)
        for expected in ["Version: 3", "ecdsa-with-SHA256", "prime256v1", "CN = Vigil gateway test", "CA:FALSE",
                         "Digital Signature", "TLS Web Server Authentication",
                         "DNS:localhost, DNS:box-7, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1"] {
            #expect(text.stdout.contains(expected), "\(expected) in\n\(text.stdout)")
        }
        // The key is the certificate's: their public keys agree.
        let fromCertificate = try ManagedProcess(openssl, ["x509", "-in", certificatePath, "-noout", "-pubkey"], directory: directory, name: "openssl")
        let fromKey = try ManagedProcess(openssl, ["pkey", "-in", keyPath, "-pubout"], directory: directory, name: "openssl")
        #expect(try await fromCertificate.finish() == 0)
        #expect(try await fromKey.finish() == 0)
        #expect(fromCertificate.stdout == fromKey.stdout && !fromKey.stdout.isEmpty)

        let info = try CertificateInfo(pemFile: certificatePath)
        #expect(abs(info.secondsLeft - 365 * 86_400) < 120)
        let fingerprint = try ManagedProcess(openssl, ["x509", "-in", certificatePath, "-noout", "-fingerprint", "-sha256"],
                                             directory: directory, name: "openssl")
        #expect(try await fingerprint.finish() == 0)
        let expected = fingerprint.stdout.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: ":", with: "")
        #expect(expected == "sha256 Fingerprint=" + Self.hex(Digest.sha256(info.der)).uppercased())

        #expect(throws: CertificateError.self) { try CertificateInfo(pemFile: keyPath) }
        #expect(throws: CertificateError.self) { try CertificateInfo(pemFile: directory.path("missing.pem")) }
    }
}
