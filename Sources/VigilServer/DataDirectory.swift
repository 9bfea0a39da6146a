#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import VigilCore

/// `data_dir`: created on first start (mode 0750) and locked, so two gateways never share one
/// store by accident.
public struct DataDirectory: Sendable {
    let lockDescriptor: Int32

    public static func prepare(_ path: String) throws -> DataDirectory {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o750])
        } catch {
            throw StartupError("data_dir \(path): cannot create it: \(String(cString: strerror(errno)))")
        }
        guard access(path, W_OK) == 0 else {
            throw StartupError("data_dir \(path): not writable by this user")
        }
        let lockPath = FilePaths.join(path, "vigil.lock")
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw StartupError("data_dir \(path): cannot create \(lockPath): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: lockPath, encoding: .utf8))?.trimmingWhitespace()
            close(fd)
            throw StartupError("data_dir \(path) is in use by another vigil process\(holder.map { " (pid \($0))" } ?? "")")
        }
        ftruncate(fd, 0)
        let pid = "\(getpid())\n"
        _ = pid.withCString { write(fd, $0, strlen($0)) }
        return DataDirectory(lockDescriptor: fd)
    }

    public func release() {
        flock(lockDescriptor, LOCK_UN)
        close(lockDescriptor)
    }
}
