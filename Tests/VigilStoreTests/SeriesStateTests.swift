import Testing
@testable import VigilStore

@Suite("A series' state in memory")
struct SeriesStateTests {
    @Test func optionalsReadBackAsWrittenInEightyBytes() {
        #expect(MemoryLayout<MetricStore.SeriesState>.stride <= 80)
        var state = MetricStore.SeriesState()
        #expect(state.newest == nil && state.oldest == nil && state.persistedNewest == nil && state.chunkSpanHours == 0)
        state.newest = MetricStore.Newest(timestamp: -5, value: nil)
        state.oldest = Int64.min
        state.persistedNewest = 0
        #expect(state.newest?.timestamp == -5 && state.newest?.value == nil)
        state.newest?.value = 21.5
        #expect(state.newest?.value == 21.5 && state.oldest == Int64.min && state.persistedNewest == 0)
        state.oldest = nil
        #expect(state.oldest == nil && state.persistedNewest == 0 && state.newest?.timestamp == -5)
        state.newest = nil
        #expect(state.newest == nil && state.persistedNewest == 0)
        state.chunkSpanHours = Int64.max
        #expect(state.chunkSpanHours == Int64(Int32.max))
    }
}
