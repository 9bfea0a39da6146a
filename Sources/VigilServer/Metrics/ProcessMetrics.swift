#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials

/// The standard `process_*` metrics, read from /proc at scrape time (Linux only; elsewhere the
/// lines are simply absent).
enum ProcessMetrics {
    static let startTime = Double(WallClockSeconds.now())

    static func render(into out: inout String) {
        out += "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
        out += "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds \(startTime)\n"
        #if os(Linux)
        if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
           let close = stat.lastIndex(of: ")") {
            // Fields after the command name; utime and stime are fields 14 and 15 of the whole line.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
            if fields.count > 21, let utime = Double(fields[11]), let stime = Double(fields[12]),
               let threads = Int(fields[17]), let vsize = Double(fields[20]), let rssPages = Double(fields[21]) {
                out += "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
                out += "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total \((utime + stime) / ticks)\n"
                out += "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                out += "# TYPE process_resident_memory_bytes gauge\n"
                out += "process_resident_memory_bytes \(Int64(rssPages) * Int64(sysconf(Int32(_SC_PAGESIZE))))\n"
                out += "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
                out += "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes \(Int64(vsize))\n"
                out += "# HELP process_threads Number of OS threads in the process.\n"
                out += "# TYPE process_threads gauge\nprocess_threads \(threads)\n"
            }
        }
        if let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            out += "# HELP process_open_fds Number of open file descriptors.\n"
            out += "# TYPE process_open_fds gauge\nprocess_open_fds \(fds.count)\n"
        }
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            out += "# HELP process_max_fds Maximum number of open file descriptors.\n"
            out += "# TYPE process_max_fds gauge\nprocess_max_fds \(limit.rlim_cur)\n"
        }
        #endif
    }
}

enum WallClockSeconds {
    static func now() -> Int64 { Int64(Date().timeIntervalSince1970) }
}
