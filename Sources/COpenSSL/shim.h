#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/bio.h>
#include <openssl/x509.h>
#include <openssl/evp.h>

// These OpenSSL calls are macros over SSL_CTX_ctrl/BIO_set_flags that Swift cannot import.
static inline int copenssl_ctx_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}
static inline long copenssl_ctx_set_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_mode(ctx, mode);
}
static inline long copenssl_ctx_set_session_cache_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_session_cache_mode(ctx, mode);
}
static inline void copenssl_bio_set_retry_read(BIO *bio) {
    BIO_set_retry_read(bio);
}
static inline void copenssl_bio_clear_retry_flags(BIO *bio) {
    BIO_clear_retry_flags(bio);
}
// SSL_OP_* are built with SSL_OP_BIT(), which Swift cannot import: the server's options in one call.
// No renegotiation, no compression, and a peer's EOF without close_notify ends the connection
// normally (most browsers close that way).
static inline void copenssl_ctx_set_server_options(SSL_CTX *ctx) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
}

// The client's options: no renegotiation, no compression; a server's EOF ends a response
// delimited by the connection's end like a close_notify would (the HTTP layer checks lengths).
static inline void copenssl_ctx_set_client_options(SSL_CTX *ctx) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
}

// VigilCrypto: key generation, certificate extensions and memory BIOs are macros or variadic.
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
static inline EVP_PKEY *copenssl_generate_p256_key(void) {
    return EVP_EC_gen("P-256");
}
static inline X509_EXTENSION *copenssl_x509_extension(X509 *certificate, int nid, const char *value) {
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, certificate, certificate, NULL, NULL, 0);
    return X509V3_EXT_conf_nid(NULL, &context, nid, value);
}
static inline long copenssl_bio_mem_contents(BIO *bio, char **data) {
    return BIO_get_mem_data(bio, data);
}
// VigilTLS's client side: the server name in the ClientHello (SNI).
static inline int copenssl_set_server_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}
