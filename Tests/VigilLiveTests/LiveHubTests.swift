import Foundation
import Logging
import Synchronization
import Testing
import VigilCore
import VigilStore
import VigilTestSupport
@testable import VigilLive

@Suite("Live hub registry")
struct LiveHubTests {
    /// A resume racing the expiry of the same detached stream: either the resume wins (the stream
    /// is attached and stays registered, so it can be resumed again later) or the expiry wins
    /// (the resume is refused). Before both maps were under one lock, a stream could be resumed
    /// between the two steps of the expiry and then be dropped from the registry while in use.
    @Test func aResumeRacingTheExpiryNeverLeavesAnAttachedStreamUnregistered() throws {
        let directory = try TemporaryDirectory()
        let store = try MetricStore(options: StoreOptions(path: directory.path("metrics.db")))
        var settings = LiveSettings()
        settings.resumeWindow = .milliseconds(1)
        let hub = LiveHub(settings: settings, store: store, board: SourceStatusBoard(), bus: ReadingBus(), logger: Logger(label: "test"))
        // One thread expires in a tight loop; the other parks streams on the edge of the window
        // and resumes them at once, thousands of times.
        let done = Atomic<Bool>(false)
        let expirer = Thread { while !done.load(ordering: .relaxed) { hub.expire() } }
        expirer.start()
        var attachedButUnregistered = 0
        var resumed = 0
        for round in 0..<20_000 {
            let stream = hub.newStream(owner: "alice")
            #expect(stream.detach(owner: 0, nowMs: WallClock.nowMs() - Int64(round % 3)))
            hub.parked(stream, after: .max)
            if let _ = hub.resume(stream.id, user: "alice", owner: round + 1, after: 0, instead: nil) {
                resumed += 1
                if !hub.isRegistered(stream.id) { attachedButUnregistered += 1 }
            }
            hub.remove(stream)
        }
        done.store(true, ordering: .relaxed)
        #expect(resumed > 0, "no resume got through: the test would prove nothing")
        #expect(attachedButUnregistered == 0, "\(attachedButUnregistered) of \(resumed) resumed streams were dropped by the expiry")
        // Only the user who owns a stream may take it over.
        let other = hub.newStream(owner: "alice")
        #expect(other.detach(owner: 0, nowMs: WallClock.nowMs() + 60_000))
        hub.parked(other, after: .max)
        #expect(hub.resume(other.id, user: "mallory", owner: 1, after: 0, instead: nil) == nil)
    }
}
