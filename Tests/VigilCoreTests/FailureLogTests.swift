import Testing
import VigilCore

@Suite("Failure log: one line per reason, then now and then")
struct FailureLogTests {
    @Test func aReasonIsLoggedOnceThenCountedAndAgainWhenItChanges() {
        let log = FailureLog(every: .seconds(300))
        #expect(log.failed("refused")?.repeats == 0)
        #expect(log.failed("refused") == nil)
        #expect(log.failed("refused") == nil)
        #expect(log.failed("timeout")?.repeats == 0)
        #expect(log.failed("timeout") == nil)
        #expect(log.recovered() == 5)
        #expect(log.recovered() == 0)
        #expect(log.failed("timeout")?.repeats == 0, "after a success the same reason is news again")
    }

    @Test func aLastingFailureIsLoggedAgainAfterTheIntervalWithTheAttemptsBetween() async throws {
        let log = FailureLog(every: .milliseconds(50))
        #expect(log.failed("down") != nil)
        for _ in 0..<3 { #expect(log.failed("down") == nil) }
        try await Task.sleep(for: .milliseconds(80))
        #expect(log.failed("down")?.repeats == 3)
    }
}
