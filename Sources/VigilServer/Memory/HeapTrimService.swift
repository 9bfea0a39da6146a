import ServiceLifecycle

/// Every `interval`, hands the allocator's free pages back to the kernel when there are enough of
/// them (`HeapAllocator.worthTrimming`): after consoles leave or a burst is stored, RSS returns to
/// what is in use within one interval instead of staying at the peak.
struct HeapTrimService: Service {
    var interval: Duration = .seconds(10)

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while (try? await Task.sleep(for: interval)) != nil {
                if let statistics = HeapAllocator.statistics(), HeapAllocator.worthTrimming(statistics) {
                    HeapAllocator.releaseFreePages()
                }
            }
        }
    }
}
