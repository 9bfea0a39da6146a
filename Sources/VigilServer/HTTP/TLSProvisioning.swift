import Crypto
import FoundationEssentials
import Logging
import NIOCore
import VigilTLS
import SwiftASN1
import X509
import VigilCore

/// Builds the listener's TLS configuration (TLS 1.2 and newer only) from the config's `http.tls`.
///
/// `self-signed`: the first start creates an ECDSA P-256 key and a certificate for localhost, the
/// host name and the loopback addresses in `data_dir/tls/`, and later starts reuse them, so a
/// browser exception or a pinned fingerprint keeps working. It is replaced 30 days before expiry.
enum TLSProvisioning {
    struct Material: Sendable {
        /// The context new connections use; a reload replaces it.
        let slot: TLSContextSlot
        let observer: TLSObserver
        /// SHA-256 of the leaf certificate's DER, as `AB:CD:…`.
        let fingerprint: String
        let certificatePath: String
    }

    static let validity: TimeInterval = 365 * 86_400
    static let renewBefore: TimeInterval = 30 * 86_400

    static func load(_ tls: HTTPSettings.TLS, dataDir: String, gatewayName: String, logger: Logger) throws -> Material? {
        guard let (context, fingerprint) = try context(tls, dataDir: dataDir, gatewayName: gatewayName, logger: logger) else { return nil }
        return Material(slot: TLSContextSlot(context), observer: TLSObserver(logger: Logger(label: "vigil.tls")),
                        fingerprint: fingerprint, certificatePath: context.certificatePath)
    }

    /// Re-reads the certificate and key (SIGHUP, or a config change naming other files) and hands
    /// the new context to new connections; connections already open keep theirs. A certificate
    /// that does not load leaves the running one in place.
    static func reload(_ material: Material, _ tls: HTTPSettings.TLS, dataDir: String, gatewayName: String, logger: Logger) {
        do {
            guard let (context, fingerprint) = try context(tls, dataDir: dataDir, gatewayName: gatewayName, logger: logger) else {
                return  // http.tls: off needs a restart (ReloadService says so)
            }
            material.slot.replace(with: context)
            logger.notice("TLS certificate reloaded for new connections",
                          metadata: ["path": "\(context.certificatePath)", "sha256_fingerprint": "\(fingerprint)"])
        } catch {
            logger.error("TLS certificate reload failed, keeping the running certificate: \(error)")
        }
    }

    private static func context(_ tls: HTTPSettings.TLS, dataDir: String, gatewayName: String,
                                logger: Logger) throws -> (TLSServerContext, String)? {
        switch tls {
        case .off:
            return nil
        case .files(let certificatePath, let keyPath):
            return try context(certificatePath: certificatePath, keyPath: keyPath)
        case .selfSigned:
            let directory = FilePaths.join(dataDir, "tls")
            let certificatePath = FilePaths.join(directory, "self-signed.crt")
            let keyPath = FilePaths.join(directory, "self-signed.key")
            if !isUsable(certificatePath: certificatePath, keyPath: keyPath) {
                try generate(certificatePath: certificatePath, keyPath: keyPath, directory: directory,
                             gatewayName: gatewayName)
                logger.notice("created a self-signed TLS certificate", metadata: ["path": "\(certificatePath)"])
            }
            return try context(certificatePath: certificatePath, keyPath: keyPath)
        }
    }

    private static func context(certificatePath: String, keyPath: String) throws -> (TLSServerContext, String) {
        let leaf: [UInt8]
        do {
            let pem = try String(contentsOfFile: certificatePath, encoding: .utf8)
            guard let first = try PEMDocument.parseMultiple(pemString: pem).first(where: { $0.discriminator == "CERTIFICATE" }) else {
                throw StartupError("no CERTIFICATE block")
            }
            _ = try Certificate(derEncoded: first.derBytes)
            leaf = first.derBytes
        } catch {
            throw StartupError("http.tls.cert: \(certificatePath) is not a PEM certificate (\(error))")
        }
        do {
            let context = try TLSServerContext(certificatePath: certificatePath, keyPath: keyPath)
            return (context, fingerprint(der: leaf))
        } catch {
            throw StartupError("http.tls: \(error)")
        }
    }

    static func fingerprint(der: [UInt8]) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        return SHA256.hash(data: der).map { String(decoding: [digits[Int($0 >> 4)], digits[Int($0 & 15)]], as: UTF8.self) }.joined(separator: ":")
    }

    private static func isUsable(certificatePath: String, keyPath: String) -> Bool {
        guard FileManager.default.fileExists(atPath: keyPath),
              let pem = try? String(contentsOfFile: certificatePath, encoding: .utf8),
              let certificate = try? Certificate(pemEncoded: pem)
        else { return false }
        return certificate.notValidAfter.timeIntervalSinceNow > renewBefore
    }

    private static func generate(certificatePath: String, keyPath: String, directory: String, gatewayName: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw StartupError("cannot create \(directory) for the self-signed certificate: \(error)")
        }
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            CommonName("Vigil gateway \(gatewayName)")
            OrganizationName("Vigil (self-signed)")
        }
        var names: [GeneralName] = [.dnsName("localhost"), .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
                                    .ipAddress(ASN1OctetString(contentBytes: ArraySlice([UInt8](repeating: 0, count: 15) + [1])))]
        let host = ProcessInfo.processInfo.hostName
        if !host.isEmpty, host != "localhost", host.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." }) {
            names.append(.dnsName(host))
        }
        let now = Date()
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(validity),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(names)
            },
            issuerPrivateKey: .init(key))
        let certificatePEM = try certificate.serializeAsPEM().pemString
        try write(key.pemRepresentation + "\n", to: keyPath, mode: 0o600)
        try write(certificatePEM + "\n", to: certificatePath, mode: 0o644)
    }

    private static func write(_ text: String, to path: String, mode: Int) throws {
        let ok = FileManager.default.createFile(atPath: path, contents: Data(text.utf8),
                                                attributes: [.posixPermissions: mode])
        guard ok else { throw StartupError("cannot write \(path)") }
    }
}

/// A start-up failure that is not a config syntax error (unreadable cert, port in use, …):
/// printed as one line, exit code 1.
public struct StartupError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
