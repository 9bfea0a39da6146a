import FoundationEssentials
import VigilCore
#if canImport(Glibc)
import Glibc
#endif

/// Where an endpoint stands: every sample with a timestamp at or before `cursor` (Unix ms) has been
/// accepted by it. Kept in `data_dir/forward/<endpoint>.cursor`, replaced atomically (write, fsync,
/// rename) after each delivered window, so a restart resumes there; at worst the last window is
/// sent twice (remote write receivers drop identical samples).
struct ForwardCursor {
    let path: String

    init(directory: String, endpoint: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = FilePaths.join(directory, "\(endpoint).cursor")
    }

    func load() -> Int64? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return Int64(text.trimmingWhitespace())
    }

    func save(_ cursor: Int64) throws {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw CursorError("cannot write \(temporary): \(String(cString: strerror(errno)))") }
        let bytes = Array("\(cursor)\n".utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        close(fd)
        guard written == bytes.count, synced == 0, rename(temporary, path) == 0 else {
            throw CursorError("cannot save the cursor at \(path): \(String(cString: strerror(errno)))")
        }
    }

    struct CursorError: Error, CustomStringConvertible { let description: String; init(_ d: String) { description = d } }
}
