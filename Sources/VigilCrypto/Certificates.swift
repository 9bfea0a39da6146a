import COpenSSL

/// A certificate read from a PEM file: its DER (what a fingerprint is taken of) and how long it
/// stays valid.
public struct CertificateInfo: Sendable {
    public let der: [UInt8]
    /// Seconds from now until `notAfter` (negative once expired).
    public let secondsLeft: Int64

    /// The first certificate of a PEM file (the leaf of a chain).
    public init(pemFile path: String) throws(CertificateError) {
        guard let bio = BIO_new_file(path, "r") else { throw .unreadable(path, OpenSSLError.latest()) }
        defer { BIO_free(bio) }
        guard let certificate = PEM_read_bio_X509(bio, nil, nil, nil) else {
            throw .notACertificate(path, OpenSSLError.latest())
        }
        defer { X509_free(certificate) }
        var days: Int32 = 0, seconds: Int32 = 0
        guard ASN1_TIME_diff(&days, &seconds, nil, X509_get0_notAfter(certificate)) == 1 else {
            throw .notACertificate(path, "unreadable notAfter")
        }
        secondsLeft = Int64(days) * 86_400 + Int64(seconds)
        let length = i2d_X509(certificate, nil)
        guard length > 0 else { throw .notACertificate(path, OpenSSLError.latest()) }
        var der = [UInt8](repeating: 0, count: Int(length))
        der.withUnsafeMutableBufferPointer { buffer in
            var cursor = buffer.baseAddress
            _ = i2d_X509(certificate, &cursor)
        }
        self.der = der
    }
}

/// A self-signed server certificate and its key, both PEM: ECDSA P-256, SHA-256 signature, not a
/// CA, key usage digital signature, extended key usage server authentication.
public struct SelfSignedCertificate: Sendable {
    public let certificatePEM: String
    public let privateKeyPEM: String

    /// `dnsNames` and `ipAddresses` (textual, IPv4 or IPv6) become the subject alternative names;
    /// valid from an hour ago (clock skew) for `validitySeconds`.
    public init(commonName: String, organization: String, dnsNames: [String], ipAddresses: [String],
                validitySeconds: Int) throws(CertificateError) {
        guard let key = copenssl_generate_p256_key() else { throw .generation("P-256 key: \(OpenSSLError.latest())") }
        defer { EVP_PKEY_free(key) }
        guard let certificate = X509_new() else { throw .generation("X509_new failed") }
        defer { X509_free(certificate) }
        var serial: [UInt8] = (0..<16).map { _ in UInt8.random(in: 0...255) }  // the system's CSPRNG
        serial[0] &= 0x7F  // a positive serial number (RFC 5280 §4.1.2.2), at most 20 bytes
        let number = BN_bin2bn(serial, Int32(serial.count), nil)  // checked: 16 bytes
        defer { BN_free(number) }
        guard X509_set_version(certificate, 2) == 1,  // v3
              BN_to_ASN1_INTEGER(number, X509_get_serialNumber(certificate)) != nil,
              X509_gmtime_adj(X509_getm_notBefore(certificate), -3600) != nil,
              X509_gmtime_adj(X509_getm_notAfter(certificate), validitySeconds) != nil,
              X509_set_pubkey(certificate, key) == 1
        else { throw .generation("certificate fields: \(OpenSSLError.latest())") }
        let name = X509_get_subject_name(certificate)
        for (field, value) in [("CN", commonName), ("O", organization)] {
            guard X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, value, -1, -1, 0) == 1 else {
                throw .generation("subject \(field): \(OpenSSLError.latest())")
            }
        }
        guard X509_set_issuer_name(certificate, name) == 1 else { throw .generation("issuer name") }
        let alternativeNames = (dnsNames.map { "DNS:\($0)" } + ipAddresses.map { "IP:\($0)" }).joined(separator: ",")
        let extensions: [(Int32, String)] = [
            (NID_basic_constraints, "critical,CA:FALSE"),
            (NID_key_usage, "critical,digitalSignature"),
            (NID_ext_key_usage, "serverAuth"),
            (NID_subject_key_identifier, "hash"),
            (NID_subject_alt_name, alternativeNames),
        ]
        for (nid, value) in extensions {
            guard let ext = copenssl_x509_extension(certificate, nid, value) else {
                throw .generation("extension \(value): \(OpenSSLError.latest())")
            }
            defer { X509_EXTENSION_free(ext) }
            guard X509_add_ext(certificate, ext, -1) == 1 else { throw .generation("extension \(value)") }
        }
        guard X509_sign(certificate, key, EVP_sha256()) > 0 else {
            throw .generation("signing: \(OpenSSLError.latest())")
        }
        certificatePEM = try Self.pem { PEM_write_bio_X509($0, certificate) }
        privateKeyPEM = try Self.pem { PEM_write_bio_PrivateKey($0, key, nil, nil, 0, nil, nil) }
    }

    private static func pem(_ write: (OpaquePointer) -> Int32) throws(CertificateError) -> String {
        guard let bio = BIO_new(BIO_s_mem()) else { throw .generation("BIO_new failed") }
        defer { BIO_free(bio) }
        guard write(bio) == 1 else { throw .generation("PEM encoding: \(OpenSSLError.latest())") }
        var data: UnsafeMutablePointer<CChar>?
        let length = copenssl_bio_mem_contents(bio, &data)
        guard let data, length > 0 else { throw .generation("PEM encoding produced nothing") }
        return String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    }
}

public enum CertificateError: Error, CustomStringConvertible, Sendable {
    case unreadable(String, String)
    case notACertificate(String, String)
    case generation(String)

    public var description: String {
        switch self {
        case .unreadable(let path, let why): "\(path): cannot be read (\(why))"
        case .notACertificate(let path, let why): "\(path) is not a PEM certificate (\(why))"
        case .generation(let what): "cannot create the self-signed certificate: \(what)"
        }
    }
}

/// The text of libcrypto's and libssl's error queue.
public enum OpenSSLError {
    /// The newest error on this thread as text; clears the queue.
    public static func latest() -> String {
        var code: UInt = 0
        while case let next = ERR_get_error(), next != 0 { code = next }
        guard code != 0 else { return "no OpenSSL error recorded" }
        var text = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &text, text.count)
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
