import COpenSSL
import VigilCrypto

/// One OpenSSL client context for outgoing HTTPS (alert notifiers, remote write): TLS 1.2 and 1.3
/// with the same suites the listener accepts, the system's trust store or a CA file of the
/// config's, and the peer's certificate checked against the host name (or IP address) of the URL.
///
/// Built once, then only read: `SSL_new` from one `SSL_CTX` is safe from any thread while the
/// context's configuration is not changed, hence `@unchecked Sendable`.
public final class TLSClientContext: @unchecked Sendable {
    let context: OpaquePointer
    let verifyPeer: Bool

    /// `caFile`: PEM certificates to trust instead of the system's store. `verifyPeer: false` (the
    /// config's `insecure_skip_verify`) accepts any certificate: for tests and closed networks.
    public init(caFile: String?, verifyPeer: Bool) throws(TLSContextError) {
        guard let context = SSL_CTX_new(TLS_client_method()) else { throw .openSSL("SSL_CTX_new failed") }
        self.context = context
        self.verifyPeer = verifyPeer
        ERR_clear_error()
        guard copenssl_ctx_set_min_proto_version(context, TLS1_2_VERSION) == 1 else { throw .openSSL("cannot require TLS 1.2") }
        guard SSL_CTX_set_cipher_list(context, TLSServerContext.tls12Ciphers) == 1 else {
            throw .openSSL("cannot set the TLS 1.2 cipher list")
        }
        copenssl_ctx_set_client_options(context)
        _ = copenssl_ctx_set_mode(context, Int(SSL_MODE_RELEASE_BUFFERS))
        let alpn: [UInt8] = [8] + Array("http/1.1".utf8)
        _ = SSL_CTX_set_alpn_protos(context, alpn, UInt32(alpn.count))
        if verifyPeer {
            if let caFile {
                guard SSL_CTX_load_verify_locations(context, caFile, nil) == 1 else {
                    throw .file(path: caFile, reason: "no PEM CA certificates could be read (\(OpenSSLError.latest()))")
                }
            } else {
                guard SSL_CTX_set_default_verify_paths(context) == 1 else {
                    throw .openSSL("cannot load the system's trusted certificates")
                }
            }
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        } else {
            SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
        }
    }

    deinit {
        SSL_CTX_free(context)
    }

    /// A connection's `SSL` for `host`: SNI for names (not for addresses, RFC 6066 §3), and the
    /// name or address the peer's certificate must carry.
    func makeSSL(host: String) -> OpaquePointer? {
        guard let ssl = SSL_new(context) else { return nil }
        let isAddress = host.contains(":") || host.allSatisfy { $0.isNumber || $0 == "." }
        if !isAddress { _ = copenssl_set_server_name(ssl, host) }
        if verifyPeer {
            let parameters = SSL_get0_param(ssl)
            let set = isAddress ? X509_VERIFY_PARAM_set1_ip_asc(parameters, host) : SSL_set1_host(ssl, host)
            guard set == 1 else {
                SSL_free(ssl)
                return nil
            }
        }
        SSL_set_connect_state(ssl)
        return ssl
    }
}
