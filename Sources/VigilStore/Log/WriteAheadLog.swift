#if canImport(Glibc)
import Glibc
#endif

/// The write-ahead log: flush records appended to segment files in `<store path>-log/`, each
/// named by the sequence number of its first record (20 digits, so names sort by number).
///
/// A segment starts with the 8-byte magic `VIGILLOG`; a record is its length (4 bytes, little
/// endian) and a zstd frame with a content checksum. Every append ends with `fdatasync`, which is
/// what makes a flush durable. A crash can leave a torn record at the end of the newest segment:
/// reading stops there, and the writer always starts a new segment after an open or an error, so
/// a torn tail is never followed by good records in the same file.
///
/// Used only under the store's flush lock: one writer, and segments are deleted only by the cut
/// that has put their samples into chunks.
struct WriteAheadLog: ~Copyable {
    static let magic: [UInt8] = Array("VIGILLOG".utf8)

    let directory: String
    /// A new segment begins once the current one passes this; only the newest is ever open.
    let maxSegmentBytes: Int
    private var descriptor: Int32 = -1
    private var segmentSize = 0
    private var context = LogContext()
    /// Bytes appended since the store was opened, for `StoreCounters.logBytes`.
    private(set) var bytesWritten: UInt64 = 0
    /// Bytes in all segment files: what a full cut gives back, and what a restart reads.
    private(set) var retainedBytes: Int

    init(directory: String, retainedBytes: Int = 0, maxSegmentBytes: Int = 32 << 20) {
        self.directory = directory
        self.retainedBytes = retainedBytes
        self.maxSegmentBytes = maxSegmentBytes
    }

    deinit { if descriptor >= 0 { close(descriptor) } }

    // MARK: Writing

    /// Appends one record and waits until it is on stable storage.
    mutating func append(_ record: LogRecord) throws(StoreError) {
        if descriptor >= 0 && segmentSize >= maxSegmentBytes { closeSegment() }
        if descriptor < 0 { try openSegment(first: record.sequence) }
        // Moved out rather than copied (a copy of every series' previous sample, per flush, was a
        // fresh mapping of hundreds of kilobytes at 10 000 series): a failure below starts a new
        // segment with a fresh context anyway.
        var context = LogContext()
        swap(&context, &self.context)
        let frame = record.encode(context: &context)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(frame.count + 4)
        withUnsafeBytes(of: UInt32(frame.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: frame)
        do throws(StoreError) {
            try Self.writeAll(descriptor, bytes)
            guard fdatasync(descriptor) == 0 else { throw StoreError.database("log: fdatasync: \(Self.errorText())") }
        } catch {
            // Never leave a partial record for good ones to follow: cut it off, and continue in a
            // new segment (with a fresh coding context) next time.
            _ = ftruncate(descriptor, off_t(segmentSize))
            closeSegment()
            throw error
        }
        segmentSize += bytes.count
        retainedBytes += bytes.count
        bytesWritten += UInt64(bytes.count)
        self.context = context
    }

    /// Ends the current segment: the next record starts a new file. Called by a full cut, after
    /// which every existing segment can go.
    mutating func closeSegment() {
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
        segmentSize = 0
        context = LogContext()
    }

    /// Deletes every segment file except the open one: called after a cut has put every record
    /// written so far into chunks (so the open segment, if any, has been closed first).
    mutating func removeClosedSegments() throws(StoreError) {
        closeSegment()
        for segment in Self.segments(in: directory) { try Self.remove(segment) }
        Self.syncDirectory(directory)
        retainedBytes = 0
    }

    /// Deletes the segments whose records are all at or below `checkpoint` (in chunks): those
    /// followed by a segment that starts at or before the record after it. The open segment
    /// stays; a turn of the rolling cut closes it so that whole segments fall behind.
    mutating func removeSegments(through checkpoint: UInt64) throws(StoreError) {
        let segments = Self.segments(in: directory)
        var removed = false
        for (segment, next) in zip(segments, segments.dropFirst()) where next.first <= checkpoint &+ 1 {
            var info = stat()
            let size = stat(segment.path, &info) == 0 ? Int(info.st_size) : 0
            try Self.remove(segment)
            retainedBytes = max(0, retainedBytes - size)
            removed = true
        }
        if removed { Self.syncDirectory(directory) }
    }

    private static func remove(_ segment: Segment) throws(StoreError) {
        guard unlink(segment.path) == 0 || errno == ENOENT else {
            throw StoreError.database("log: cannot remove \(segment.path): \(errorText())")
        }
    }

    private mutating func openSegment(first: UInt64) throws(StoreError) {
        if mkdir(directory, 0o750) != 0 && errno != EEXIST {
            throw StoreError.database("log: cannot create \(directory): \(Self.errorText())")
        }
        let path = Self.path(directory, first)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw StoreError.database("log: cannot create \(path): \(Self.errorText())") }
        do throws(StoreError) {
            try Self.writeAll(fd, Self.magic)
        } catch {
            close(fd)
            _ = unlink(path)
            throw error
        }
        // The file's name must survive a power cut as surely as the records in it.
        Self.syncDirectory(directory)
        descriptor = fd
        segmentSize = Self.magic.count
        retainedBytes += Self.magic.count
        context = LogContext()
    }

    // MARK: Reading

    struct Segment {
        let first: UInt64
        let path: String
    }

    /// What reading a segment found.
    struct ReadOutcome {
        /// A record that did not read back (torn at a crash, or damaged): the rest of its file
        /// is skipped.
        var damaged = false
    }

    static func path(_ directory: String, _ first: UInt64) -> String {
        let digits = String(first)
        return directory + "/" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".log"
    }

    /// The segment files, oldest first.
    static func segments(in directory: String) -> [Segment] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var found: [Segment] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.hasSuffix(".log"), let first = UInt64(name.dropLast(4)) else { continue }
            found.append(Segment(first: first, path: directory + "/" + name))
        }
        return found.sorted { $0.first < $1.first }
    }

    /// Reads every good record of one segment, in order. A segment deleted meanwhile (a cut in
    /// a running gateway, seen by a read-only open) reads as empty: its samples are in chunks.
    static func read(_ segment: Segment, visit: (LogRecord) -> Void) -> ReadOutcome {
        var outcome = ReadOutcome()
        guard let bytes = readFile(segment.path) else { return outcome }
        guard bytes.count >= magic.count, Array(bytes[0..<magic.count]) == magic else {
            outcome.damaged = !bytes.isEmpty
            return outcome
        }
        var offset = magic.count
        var context = LogContext()
        while offset < bytes.count {
            guard bytes.count - offset >= 4 else {
                outcome.damaged = true
                break
            }
            let length = Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2]) << 16 | Int(bytes[offset + 3]) << 24
            offset += 4
            guard length <= bytes.count - offset,
                  let record = try? LogRecord.decode(Array(bytes[offset..<offset + length]), context: &context) else {
                outcome.damaged = true
                break
            }
            offset += length
            visit(record)
        }
        return outcome
    }

    // MARK: Files

    private static func readFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            bytes.append(contentsOf: buffer[0..<n])
        }
        return bytes
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(StoreError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw StoreError.database("log: write: \(errorText())") }
            offset += n
        }
    }

    private static func syncDirectory(_ directory: String) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    private static func errorText() -> String { String(cString: strerror(errno)) }
}
