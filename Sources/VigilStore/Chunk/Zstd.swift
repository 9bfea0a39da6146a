import CZstd

/// zstd (Debian libzstd) for chunk blobs. Frames carry zstd's content checksum, so a chunk
/// damaged on disk fails to decompress instead of decoding into wrong samples.
enum Zstd {
    static func compress(_ input: [UInt8], level: Int32 = 3) -> [UInt8] {
        let context = ZSTD_createCCtx()
        defer { ZSTD_freeCCtx(context) }
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
        var output = [UInt8](repeating: 0, count: Int(declared))
        let result = output.withUnsafeMutableBytes { out in
            input.withUnsafeBytes { inp in
                ZSTD_decompress(out.baseAddress, Int(declared), inp.baseAddress, input.count)
            }
        }
        if ZSTD_isError(result) != 0 { throw .corrupt(String(cString: ZSTD_getErrorName(result))) }
        guard result == declared else { throw .corrupt("frame holds \(result) of \(declared) bytes") }
        return output
    }
}
