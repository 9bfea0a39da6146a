import CZstd
import Synchronization

/// zstd (Debian libzstd) for chunk blobs. Frames carry zstd's content checksum, so a chunk
/// damaged on disk fails to decompress instead of decoding into wrong samples.
///
/// Contexts are reused: `ZSTD_decompress` and a fresh `ZSTD_createCCtx` allocate and initialise
/// a context (about 100 KiB for decompression, more for compression) on every call, which cost
/// more than decoding a 2048-sample chunk and doubled the time of a raw range query once chunks
/// of jittered series read their timestamps from a second frame.
enum Zstd {
    static func compress(_ input: [UInt8], level: Int32 = 3) -> [UInt8] {
        let context = compressionContexts.take() ?? ZSTD_createCCtx()
        defer { compressionContexts.give(context) }
        // Parameters stick to a context: reset them so a pooled context starts like a new one.
        ZSTD_CCtx_reset(context, ZSTD_reset_session_and_parameters)
        ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1)
        let bound = ZSTD_compressBound(input.count)
        var output = [UInt8](repeating: 0, count: bound)
        let written = output.withUnsafeMutableBytes { out in
            input.withUnsafeBytes { inp in
                ZSTD_compress2(context, out.baseAddress, bound, inp.baseAddress, input.count)
            }
        }
        // Compression into a buffer of compressBound size cannot fail.
        output.removeSubrange(Int(written)...)
        return output
    }

    /// `limit` bounds the decompressed size, so a hostile or corrupt frame cannot claim gigabytes.
    static func decompress(_ input: [UInt8], limit: Int) throws(ChunkDecodingError) -> [UInt8] {
        let declared = input.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, input.count) }
        // ZSTD_CONTENTSIZE_UNKNOWN and _ERROR are the two largest UInt64 values.
        guard declared < UInt64.max - 1 else { throw .corrupt("not a zstd frame") }
        guard declared <= UInt64(limit) else { throw .corrupt("frame declares \(declared) bytes") }
        let context = decompressionContexts.take() ?? ZSTD_createDCtx()
        defer { decompressionContexts.give(context) }
        var output = [UInt8](repeating: 0, count: Int(declared))
        let result = output.withUnsafeMutableBytes { out in
            input.withUnsafeBytes { inp in
                ZSTD_decompressDCtx(context, out.baseAddress, Int(declared), inp.baseAddress, input.count)
            }
        }
        if ZSTD_isError(result) != 0 {
            // A failed frame can leave the context mid-stream; the next user must start clean.
            ZSTD_DCtx_reset(context, ZSTD_reset_session_only)
            throw .corrupt(String(cString: ZSTD_getErrorName(result)))
        }
        guard result == declared else { throw .corrupt("frame holds \(result) of \(declared) bytes") }
        return output
    }

    private static let compressionContexts = ContextPool { ZSTD_freeCCtx($0) }
    private static let decompressionContexts = ContextPool { ZSTD_freeDCtx($0) }
}

/// A few zstd contexts for whichever thread needs one. A context is used by one thread at a time
/// (taken out of the pool while in use); the pool keeps at most `capacity`, so a burst of
/// concurrent readers frees its extra contexts instead of holding their memory.
private final class ContextPool: Sendable {
    private static let capacity = 8
    // OpaquePointer is not Sendable; the pointers are only handed from one thread to the next
    // through the mutex, never used by two threads at once.
    private struct Pointers: @unchecked Sendable { var list: [OpaquePointer] = [] }
    private let free = Mutex(Pointers())
    private let release: @Sendable (OpaquePointer) -> Void

    init(release: @escaping @Sendable (OpaquePointer) -> Void) { self.release = release }

    func take() -> OpaquePointer? {
        free.withLock { $0.list.popLast() }
    }

    func give(_ context: OpaquePointer?) {
        guard let context else { return }
        let kept = free.withLock { pool -> Bool in
            guard pool.list.count < Self.capacity else { return false }
            pool.list.append(context)
            return true
        }
        if !kept { release(context) }
    }
}
