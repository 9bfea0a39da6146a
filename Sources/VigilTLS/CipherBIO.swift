import COpenSSL
import NIOCore

/// The ciphertext between OpenSSL and one channel. OpenSSL reads what arrived from `inbound` and
/// appends what it wants sent to `outbound`, through a BIO of our own (below) that calls back into
/// this object: no memory BIO holding a second copy, and nothing kept once a read is consumed.
/// Used only on the channel's event loop, from inside the handler's `SSL_*` calls.
final class CipherBuffers {
    /// Ciphertext received and not yet consumed by OpenSSL.
    var inbound: ByteBuffer
    /// Ciphertext OpenSSL produced, to be written to the socket; nil when there is none.
    var outbound: ByteBuffer?
    /// How much to reserve for the next `outbound` (the handler sets it before encrypting).
    var outboundCapacity = 1024
    let allocator: ByteBufferAllocator

    init(allocator: ByteBufferAllocator) {
        self.allocator = allocator
        self.inbound = allocator.buffer(capacity: 0)
    }

    /// A new BIO whose reads and writes land here. The BIO does not retain this object: the
    /// handler owns both and frees the `SSL` (and with it the BIO) before it lets go of this.
    func makeBIO() -> OpaquePointer? {
        guard let bio = BIO_new(CipherBIOMethod.shared.method) else { return nil }
        BIO_set_data(bio, Unmanaged.passUnretained(self).toOpaque())
        return bio
    }

    fileprivate static func of(_ bio: OpaquePointer?) -> CipherBuffers? {
        guard let bio, let data = BIO_get_data(bio) else { return nil }
        return Unmanaged<CipherBuffers>.fromOpaque(data).takeUnretainedValue()
    }
}

/// The BIO method: created once per process and only read after that, which OpenSSL allows from
/// any thread; the pointer itself is what needs `@unchecked Sendable`.
struct CipherBIOMethod: @unchecked Sendable {
    let method: OpaquePointer

    static let shared: CipherBIOMethod = {
        guard let method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "vigil channel") else {
            fatalError("BIO_meth_new failed: OpenSSL is out of memory at start-up")
        }
        BIO_meth_set_create(method) { bio in
            BIO_set_init(bio, 1)
            return 1
        }
        BIO_meth_set_destroy(method) { _ in 1 }
        BIO_meth_set_read(method) { bio, target, length in
            copenssl_bio_clear_retry_flags(bio)
            guard let buffers = CipherBuffers.of(bio), let target, length > 0 else { return -1 }
            let count = min(Int(length), buffers.inbound.readableBytes)
            guard count > 0 else {
                copenssl_bio_set_retry_read(bio)  // "nothing yet": SSL_ERROR_WANT_READ
                return -1
            }
            buffers.inbound.withUnsafeReadableBytes { source in
                UnsafeMutableRawPointer(target).copyMemory(from: source.baseAddress!, byteCount: count)
            }
            buffers.inbound.moveReaderIndex(forwardBy: count)
            return Int32(count)
        }
        BIO_meth_set_write(method) { bio, source, length in
            copenssl_bio_clear_retry_flags(bio)
            guard let buffers = CipherBuffers.of(bio), let source, length > 0 else { return length == 0 ? 0 : -1 }
            if buffers.outbound == nil {
                buffers.outbound = buffers.allocator.buffer(capacity: max(buffers.outboundCapacity, Int(length)))
            }
            buffers.outbound!.writeBytes(UnsafeRawBufferPointer(start: source, count: Int(length)))
            return length
        }
        BIO_meth_set_ctrl(method) { _, command, _, _ in
            // Writes never wait (they land in a buffer), so a flush is always done; nothing else applies.
            command == BIO_CTRL_FLUSH ? 1 : 0
        }
        return CipherBIOMethod(method: method)
    }()
}
