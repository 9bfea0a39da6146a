import COpenSSL
import VigilCrypto
import Logging
import Metrics
import VigilCore

/// Why a TLS connection failed, as few kinds as an operator needs to tell a scanner, an old
/// client and a broken network apart (the label of `vigil_tls_failures_total`).
public enum TLSFailure: String, Sendable, CaseIterable {
    /// The client offered only TLS 1.1 or older (or SSL).
    case protocolVersion = "protocol_version"
    /// No cipher suite in common (a client with only weak suites).
    case noSharedCipher = "no_shared_cipher"
    /// The bytes are not TLS at all: plain HTTP to the HTTPS port, a port scanner.
    case notTLS = "not_tls"
    /// A malformed, oversized or undecryptable record.
    case badRecord = "bad_record"
    /// The handshake did not finish in time.
    case timeout
    /// The peer closed the connection in the middle of the handshake.
    case eof
    case other

    /// The failure recorded on this thread's OpenSSL error queue, and its text; clears the queue.
    /// `plainHTTP`: the client spoke HTTP without TLS (it gets a short plain-text answer).
    static func current() -> (failure: TLSFailure, text: String, plainHTTP: Bool) {
        let code = ERR_peek_last_error()
        let plainHTTP = ERR_GET_REASON(code) == SSL_R_HTTP_REQUEST
        let failure: TLSFailure
        switch ERR_GET_REASON(code) {
        case SSL_R_UNSUPPORTED_PROTOCOL, SSL_R_VERSION_TOO_LOW, SSL_R_UNSUPPORTED_SSL_VERSION, SSL_R_NO_PROTOCOLS_AVAILABLE:
            failure = .protocolVersion
        case SSL_R_NO_SHARED_CIPHER:
            failure = .noSharedCipher
        case SSL_R_WRONG_VERSION_NUMBER, SSL_R_HTTP_REQUEST, SSL_R_HTTPS_PROXY_REQUEST:
            failure = .notTLS
        case SSL_R_ENCRYPTED_LENGTH_TOO_LONG, SSL_R_PACKET_LENGTH_TOO_LONG, SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC,
             SSL_R_RECORD_LENGTH_MISMATCH, SSL_R_LENGTH_MISMATCH, SSL_R_BAD_LENGTH, SSL_R_DATA_LENGTH_TOO_LONG,
             SSL_R_UNEXPECTED_RECORD, SSL_R_UNEXPECTED_MESSAGE, SSL_R_BAD_PACKET_LENGTH:
            failure = .badRecord
        case SSL_R_UNEXPECTED_EOF_WHILE_READING:
            failure = .eof
        default:
            failure = code == 0 ? .eof : .other
        }
        return (failure, OpenSSLError.latest(), plainHTTP)
    }
}

/// Counts handshakes and failures for /metrics and logs failures at most a few times a minute per
/// kind: a scanner hammering the port costs counters, not a full disk. Failures are the client's
/// doing, so they are logged at `info`, never as errors.
public final class TLSObserver: Sendable {
    private let handshakes = Counter(label: "vigil_tls_handshakes_total")
    private let failures: [TLSFailure: Counter]
    private let logger: Logger
    private let limiter = RateLimiter(burst: 3, window: .seconds(60), maxKeys: 16)

    public init(logger: Logger) {
        self.logger = logger
        var failures: [TLSFailure: Counter] = [:]
        for failure in TLSFailure.allCases {
            failures[failure] = Counter(label: "vigil_tls_failures_total", dimensions: [("reason", failure.rawValue)])
        }
        self.failures = failures
    }

    func completed() {
        handshakes.increment()
    }

    func failed(_ failure: TLSFailure, detail: String) {
        failures[failure]?.increment()
        let decision = limiter.check(failure.rawValue)
        guard decision.emit else { return }
        var metadata: Logger.Metadata = ["reason": "\(failure.rawValue)", "detail": "\(detail)"]
        if decision.suppressed > 0 { metadata["suppressed"] = "\(decision.suppressed)" }
        logger.info("TLS connection refused", metadata: metadata)
    }
}
