import Foundation
import Synchronization
import Testing
import VigilTestSupport
@testable import VigilServer

@Suite("Sessions, tokens and the login limiter")
struct AuthTests {
    @Test func sessionsExpireSurviveRestartsAndStoreOnlyHashes() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-auth-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("sessions.json").path
        let store = SessionStore(path: path, ttl: .seconds(3600))
        let (id, _) = store.create(user: "alice", role: .operator)
        #expect(store.lookup(id)?.user == "alice")
        #expect(store.lookup(id + "x") == nil)
        let file = try String(contentsOfFile: path, encoding: .utf8)
        #expect(!file.contains(id) && file.contains(SessionStore.hash(id)))
        let restarted = SessionStore(path: path, ttl: .seconds(3600))
        #expect(restarted.lookup(id)?.role == .operator)
        restarted.delete(id)
        #expect(SessionStore(path: path, ttl: .seconds(3600)).lookup(id) == nil)

        let shortLived = SessionStore(path: nil, ttl: .milliseconds(1))
        let (expiring, _) = shortLived.create(user: "bob", role: .viewer)
        Thread.sleep(forTimeInterval: 0.01)
        #expect(shortLived.lookup(expiring) == nil)
    }

    @Test func limiterAllowsFiveFailuresPerAddressAndPerUser() {
        let limiter = LoginLimiter()
        for _ in 0..<5 {
            #expect(limiter.retryAfter(address: "10.0.0.1", user: "alice") == nil)
            limiter.failed(address: "10.0.0.1", user: "alice")
        }
        #expect((limiter.retryAfter(address: "10.0.0.1", user: "bob") ?? 0) > 0)    // the address is blocked
        #expect((limiter.retryAfter(address: "10.0.0.2", user: "alice") ?? 0) > 0)  // so is the user
        #expect(limiter.retryAfter(address: "10.0.0.2", user: "bob") == nil)
    }

    @Test func credentialsInURLsAreRecognized() {
        #expect(Authenticator.hasCredentialParameter("a=1&token=x"))
        #expect(Authenticator.hasCredentialParameter("Access_Token=x"))
        #expect(!Authenticator.hasCredentialParameter("query=temperature&start=-1h"))
        #expect(Authenticator.constantTimeEqual([1, 2, 3], [1, 2, 3]) && !Authenticator.constantTimeEqual([1, 2, 3], [1, 2, 4]))
    }
}

@Suite("Sessions file under concurrent logins")
struct SessionFileTests {
    /// Logins and logouts on many threads at once: the file must end up whole and holding exactly
    /// the sessions that are live, every round.
    @Test func concurrentLoginsNeverLeaveATornOrStaleFile() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("sessions.json")
        for round in 0..<10 {
            let store = SessionStore(path: path, ttl: .seconds(3600))
            let ids = Mutex([String]())
            DispatchQueue.concurrentPerform(iterations: 24) { i in
                let (id, _) = store.create(user: "user\(i)", role: .viewer)
                if i % 3 == 0 { store.delete(id) } else { ids.withLock { $0.append(id) } }
            }
            let reopened = SessionStore(path: path, ttl: .seconds(3600))
            for id in ids.withLock({ $0 }) {
                #expect(reopened.lookup(id) != nil, "round \(round): a live session is missing from the file")
            }
            let file = try Data(contentsOf: URL(fileURLWithPath: path))
            let stored = try JSONSerialization.jsonObject(with: file) as? [String: Any]
            #expect(stored?.count == ids.withLock { $0.count } + round * 16, "round \(round)")
        }
    }
}
