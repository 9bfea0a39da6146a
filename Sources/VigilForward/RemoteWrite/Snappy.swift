import CSnappy

/// Snappy block format (not the framed format): what remote write's `Content-Encoding: snappy` means.
public enum Snappy {
    public static func compress(_ input: [UInt8]) -> [UInt8] {
        var length = snappy_max_compressed_length(input.count)
        var output = [UInt8](repeating: 0, count: length)
        let status = input.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                source.baseAddress!.withMemoryRebound(to: CChar.self, capacity: max(1, input.count)) { src in
                    target.baseAddress!.withMemoryRebound(to: CChar.self, capacity: target.count) { dst in
                        snappy_compress(src, input.count, dst, &length)
                    }
                }
            }
        }
        precondition(status == SNAPPY_OK, "snappy_compress cannot fail with a buffer of snappy_max_compressed_length")
        output.removeLast(output.count - length)
        return output
    }

    public static func uncompress(_ input: [UInt8]) -> [UInt8]? {
        var length = 0
        let ok = input.withUnsafeBufferPointer { source in
            source.baseAddress.map { base in
                base.withMemoryRebound(to: CChar.self, capacity: max(1, input.count)) { snappy_uncompressed_length($0, input.count, &length) }
            } ?? SNAPPY_INVALID_INPUT
        }
        guard ok == SNAPPY_OK else { return nil }
        var output = [UInt8](repeating: 0, count: length)
        let status = input.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                source.baseAddress!.withMemoryRebound(to: CChar.self, capacity: input.count) { src in
                    target.baseAddress!.withMemoryRebound(to: CChar.self, capacity: max(1, target.count)) { dst in
                        snappy_uncompress(src, input.count, dst, &length)
                    }
                }
            }
        }
        return status == SNAPPY_OK ? output : nil
    }
}
