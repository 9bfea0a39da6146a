import FoundationEssentials
import Logging
import NIOCore
import VigilCore
import VigilCrypto
import VigilTLS

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

    static let validitySeconds = 365 * 86_400
    static let renewBeforeSeconds: Int64 = 30 * 86_400

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
        let leaf: CertificateInfo
        do {
            leaf = try CertificateInfo(pemFile: certificatePath)
        } catch {
            throw StartupError("http.tls.cert: \(error)")
        }
        do {
            let context = try TLSServerContext(certificatePath: certificatePath, keyPath: keyPath)
            // SHA-256 of the DER as `AB:CD:…`, the way browsers show a fingerprint.
            return (context, Secrets.hex(Digest.sha256(leaf.der), uppercase: true, separator: UInt8(ascii: ":")))
        } catch {
            throw StartupError("http.tls: \(error)")
        }
    }

    private static func isUsable(certificatePath: String, keyPath: String) -> Bool {
        guard FileManager.default.fileExists(atPath: keyPath),
              let certificate = try? CertificateInfo(pemFile: certificatePath)
        else { return false }
        return certificate.secondsLeft > renewBeforeSeconds
    }

    private static func generate(certificatePath: String, keyPath: String, directory: String, gatewayName: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw StartupError("cannot create \(directory) for the self-signed certificate: \(error)")
        }
        var names = ["localhost"]
        let host = ProcessInfo.processInfo.hostName
        if !host.isEmpty, host != "localhost", host.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." }) {
            names.append(host)
        }
        let certificate: SelfSignedCertificate
        do {
            certificate = try SelfSignedCertificate(commonName: "Vigil gateway \(gatewayName)", organization: "Vigil (self-signed)",
                                                    dnsNames: names, ipAddresses: ["127.0.0.1", "::1"],
                                                    validitySeconds: validitySeconds)
        } catch {
            throw StartupError("\(error)")
        }
        try write(certificate.privateKeyPEM, to: keyPath, mode: 0o600)
        try write(certificate.certificatePEM, to: certificatePath, mode: 0o644)
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
