import Testing
import VigilCore

@Suite("Source status board")
struct SourceStatusBoardTests {
    /// The live hub sends `source` events only when the state version moved: message counters
    /// alone must not move it, a state, detail or silence change must.
    @Test func theStateVersionMovesWithStateNotWithCounters() {
        let board = SourceStatusBoard()
        let start = board.stateVersion
        board.register(name: "mqtt/a", kind: "mqtt")
        let registered = board.stateVersion
        #expect(registered != start)
        board.update("mqtt/a") { $0.messages += 10; $0.lastMessageMs = 5 }
        #expect(board.stateVersion == registered)
        board.update("mqtt/a") { $0.state = .connected }
        #expect(board.stateVersion != registered)
        let connected = board.stateVersion
        board.update("mqtt/a") { $0.detail = "silent" }
        #expect(board.stateVersion != connected)
        board.update("mqtt/nope") { $0.state = .connected }  // unknown: nothing
        #expect(board.snapshot().map(\.name) == ["mqtt/a"])
    }
}
