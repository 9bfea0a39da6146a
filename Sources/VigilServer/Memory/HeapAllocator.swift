#if canImport(Glibc)
import CMalloc
#endif
import Synchronization

/// The process's view of glibc's allocator: how it is tuned for a long-running gateway on a small
/// box, what it holds (for /metrics and bench/footprint), and handing free pages back.
///
/// Why it needs tuning: glibc gives every thread that allocates its own arena, up to 8 per core,
/// and the gateway has many threads (event loops, the cooperative pool, the store's thread pool,
/// one per serial port or broker). Memory freed in one arena cannot serve another, and an arena
/// returns pages to the kernel only from the top of its heap, so a burst (a hundred consoles
/// subscribing at once) left RSS high long after it was freed. Fewer arenas, large blocks in
/// their own mappings, and a periodic trim keep RSS close to what is really in use.
package enum HeapAllocator {
    package struct Statistics: Sendable, Equatable {
        /// Bytes handed out and not yet freed (small blocks in arenas plus large mapped blocks).
        package var inUse: Int
        /// Bytes free inside the arenas: resident until trimmed or reused.
        package var free: Int
        /// Bytes in blocks with a mapping of their own (returned to the kernel on free).
        package var mapped: Int
    }

    /// Arenas for the whole process: two serve two cores without lock contention worth measuring
    /// (bench/footprint), and keep freed memory reusable by every thread.
    package static let arenas: Int32 = 2
    /// Blocks at least this large get a mapping of their own, so freeing them returns the pages at
    /// once. glibc raises its threshold (up to 32 MiB) after such a block is freed, which moved
    /// the live stream's large update buffers into the arenas; a fixed value keeps them out.
    package static let mappedThreshold: Int32 = 256 * 1024

    private static let trims = Atomic<Int>(0)

    /// Tunes the allocator; call once at process start, before other threads allocate.
    package static func configure() {
        #if canImport(Glibc)
        _ = mallopt(M_ARENA_MAX, arenas)
        _ = mallopt(M_MMAP_THRESHOLD, mappedThreshold)
        #endif
    }

    package static func statistics() -> Statistics? {
        #if canImport(Glibc)
        var inUse = 0, free = 0, mapped = 0
        cmalloc_statistics(&inUse, &free, &mapped)
        return Statistics(inUse: inUse, free: free, mapped: mapped)
        #else
        return nil
        #endif
    }

    /// Hands free pages inside the arenas back to the kernel (they stay usable: the kernel maps
    /// fresh zero pages on the next touch). Costs a walk over the free lists: milliseconds.
    package static func releaseFreePages() {
        #if canImport(Glibc)
        _ = malloc_trim(0)
        trims.add(1, ordering: .relaxed)
        #endif
    }

    package static var trimCount: Int { trims.load(ordering: .relaxed) }

    /// Whether free memory is worth handing back: more than `floor` bytes and more than an eighth
    /// of what is in use (a busy heap reuses its free blocks soon; trimming those only costs). At
    /// 4 MiB and a quarter, 10 000 series (2–3.5 MB free of 17–19 in use) never trimmed; at 1 MiB
    /// and an eighth RSS was 0.3–0.7 MiB lower for the same CPU (bench/README.md).
    package static func worthTrimming(_ statistics: Statistics, floor: Int = 1 << 20) -> Bool {
        statistics.free > floor && statistics.free * 8 > statistics.inUse
    }

    /// `vigil_memory_heap_*` lines for /metrics.
    package static func render(into out: inout String) {
        guard let statistics = statistics() else { return }
        out += "# HELP vigil_memory_heap_in_use_bytes Bytes the allocator has handed out and not got back (glibc mallinfo2).\n"
        out += "# TYPE vigil_memory_heap_in_use_bytes gauge\nvigil_memory_heap_in_use_bytes \(statistics.inUse)\n"
        out += "# HELP vigil_memory_heap_free_bytes Bytes free inside the allocator's arenas, resident until reused or trimmed.\n"
        out += "# TYPE vigil_memory_heap_free_bytes gauge\nvigil_memory_heap_free_bytes \(statistics.free)\n"
        out += "# HELP vigil_memory_heap_mapped_bytes Bytes in large blocks with a mapping of their own.\n"
        out += "# TYPE vigil_memory_heap_mapped_bytes gauge\nvigil_memory_heap_mapped_bytes \(statistics.mapped)\n"
        out += "# HELP vigil_memory_heap_trims_total Times free arena pages were handed back to the kernel.\n"
        out += "# TYPE vigil_memory_heap_trims_total counter\nvigil_memory_heap_trims_total \(trimCount)\n"
    }
}
