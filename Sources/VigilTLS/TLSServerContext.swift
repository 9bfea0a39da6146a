import COpenSSL
import VigilCrypto

/// One OpenSSL server context (`SSL_CTX`): the certificate chain and key, and the policy every
/// connection made from it follows. TLS 1.2 and 1.3 only; TLS 1.2 with forward-secret AEAD suites
/// only; no renegotiation, no compression; ALPN answers `http/1.1` when offered.
///
/// Connections idle without record buffers (`SSL_MODE_RELEASE_BUFFERS`): a quiet console holds the
/// `SSL` object, not 34 KiB of read and write buffers. Sessions resume through stateless tickets;
/// the server keeps no session cache that would grow with the number of clients.
///
/// Built once, then only read: OpenSSL makes `SSL_new` from one `SSL_CTX` safe from any thread
/// (the context is reference counted and its configuration is not changed after this init), which
/// is why this class can be `@unchecked Sendable`.
public final class TLSServerContext: @unchecked Sendable {
    let context: OpaquePointer
    /// Where the chain and key came from, for log lines.
    public let certificatePath: String

    /// TLS 1.2 suites: ECDHE key exchange with AES-GCM or ChaCha20-Poly1305 (Mozilla's
    /// "intermediate" profile without finite-field DHE). TLS 1.3 keeps OpenSSL's three suites.
    static let tls12Ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
        + "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

    /// Loads a PEM certificate chain (leaf first) and its PEM private key.
    public init(certificatePath: String, keyPath: String) throws(TLSContextError) {
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw .openSSL("SSL_CTX_new failed") }
        self.context = context
        self.certificatePath = certificatePath
        ERR_clear_error()
        guard copenssl_ctx_set_min_proto_version(context, TLS1_2_VERSION) == 1 else { throw .openSSL("cannot require TLS 1.2") }
        guard SSL_CTX_set_cipher_list(context, Self.tls12Ciphers) == 1 else { throw .openSSL("cannot set the TLS 1.2 cipher list") }
        copenssl_ctx_set_server_options(context)
        _ = copenssl_ctx_set_mode(context, Int(SSL_MODE_RELEASE_BUFFERS))
        _ = copenssl_ctx_set_session_cache_mode(context, Int(SSL_SESS_CACHE_OFF))
        // One resumption ticket per TLS 1.3 handshake (OpenSSL sends two by default).
        _ = SSL_CTX_set_num_tickets(context, 1)
        SSL_CTX_set_alpn_select_cb(context, selectALPN, nil)

        guard SSL_CTX_use_certificate_chain_file(context, certificatePath) == 1 else {
            throw .file(path: certificatePath, reason: "not a PEM certificate chain (\(OpenSSLError.latest()))")
        }
        guard SSL_CTX_use_PrivateKey_file(context, keyPath, SSL_FILETYPE_PEM) == 1 else {
            throw .file(path: keyPath, reason: "not a PEM private key (\(OpenSSLError.latest()))")
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            throw .file(path: keyPath, reason: "does not match the certificate in \(certificatePath)")
        }
    }

    deinit {
        SSL_CTX_free(context)
    }
}

/// Why a context could not be built: which file, and what OpenSSL said about it.
public enum TLSContextError: Error, CustomStringConvertible, Sendable {
    case file(path: String, reason: String)
    case openSSL(String)

    public var description: String {
        switch self {
        case .file(let path, let reason): "\(path): \(reason)"
        case .openSSL(let what): "\(what) (\(OpenSSLError.latest()))"
        }
    }
}

/// ALPN: `http/1.1` when the client offers it; a client that offers only other protocols (h2
/// alone) proceeds without ALPN rather than failing, and is served HTTP/1.1.
private func selectALPN(
    _ ssl: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, _ outLength: UnsafeMutablePointer<UInt8>?,
    _ offered: UnsafePointer<UInt8>?, _ offeredLength: UInt32, _ argument: UnsafeMutableRawPointer?
) -> Int32 {
    guard let offered, let out, let outLength else { return SSL_TLSEXT_ERR_NOACK }
    let wanted: [UInt8] = Array("http/1.1".utf8)
    var index = 0
    let count = Int(offeredLength)
    while index < count {
        let length = Int(offered[index])
        let start = index + 1
        guard start + length <= count else { break }
        if length == wanted.count, (0..<length).allSatisfy({ offered[start + $0] == wanted[$0] }) {
            out.pointee = offered + start
            outLength.pointee = UInt8(length)
            return SSL_TLSEXT_ERR_OK
        }
        index = start + length
    }
    return SSL_TLSEXT_ERR_NOACK
}
