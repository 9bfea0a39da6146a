import Foundation
import Logging
import Testing
import VigilCore
import VigilStore
import VigilTestSupport
@testable import VigilAlerts

/// The engine decides under its lock; `alerts.db` is written outside it. A second SQLite
/// connection holding the write lock stands in for a slow or stalled flash (commits wait up to
/// the 5 s busy timeout, then fail).
@Suite("Alert persistence off the engine's lock")
struct AlertPersistenceTests {
    static let hot = Labels(["device": "boiler"])

    static func makeCenter(_ directory: TemporaryDirectory) throws -> AlertCenter {
        var config = AlertsConfig.empty
        config.selfAlerts = false
        config.rules = [AlertRule(name: "Hot", selector: try SeriesSelector.parse("temp"), condition: .threshold(.greater, 50, clear: nil))]
        config.notifiers = [NotifierConfig(
            name: "hook", kind: .webhook(.init(url: "http://127.0.0.1:9/", secret: nil, headers: [:], caFile: nil, insecureSkipVerify: false)),
            timeout: .seconds(1), retryInitial: .seconds(1), retryMax: .seconds(2))]
        return try AlertCenter(config: config, databasePath: directory.url.appendingPathComponent("alerts.db").path,
                               gateway: "test", externalURL: "https://127.0.0.1", logger: Logger(label: "test"))
    }

    static func reading(_ value: Double, at ms: Int64) -> Reading {
        Reading(metric: "temp", labels: hot, timestampMs: ms, value: value)
    }

    /// Another connection's write transaction: every commit of the center waits for it.
    static func lockDatabase(_ directory: TemporaryDirectory) throws -> StoreDatabase {
        let blocker = try StoreDatabase(path: directory.url.appendingPathComponent("alerts.db").path)
        try blocker.execute("BEGIN IMMEDIATE")
        return blocker
    }

    static func outboxReasons(_ directory: TemporaryDirectory) throws -> [String] {
        let db = try StoreDatabase(path: directory.url.appendingPathComponent("alerts.db").path, readOnly: true)
        let statement = try db.prepare("SELECT reason FROM outbox ORDER BY id")
        var reasons: [String] = []
        while try statement.step() { reasons.append(statement.text(0)) }
        statement.reset()
        return reasons
    }

    static func elapsed(_ body: () -> Void) -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        body()
        return clock.now - start
    }

    @Test("a stalled alerts.db does not stall evaluation, listing or /metrics; the change is saved once it frees")
    func stalledDatabaseDoesNotBlock() async throws {
        let directory = try TemporaryDirectory()
        let center = try Self.makeCenter(directory)
        let blocker = try Self.lockDatabase(directory)

        // Before the engine and the database were separated, this observe waited out the busy
        // timeout (5 s) under the lock, and every call below waited behind it.
        let observe = Self.elapsed { center.observe([Self.reading(90, at: 1_000)], now: 1_000) }
        try await Task.sleep(for: .milliseconds(300))  // the save is now waiting on the lock
        let reads = Self.elapsed {
            #expect(center.list(now: 1_300).map(\.instance.state) == [.firing])
            _ = center.stateCounts()
            _ = center.outboxStatistics(now: 1_300)
            center.tick(now: 1_300)
        }
        #expect(observe < .milliseconds(500), "observe took \(observe)")
        #expect(reads < .milliseconds(500), "listing, /metrics and a tick took \(reads)")
        #expect(try Self.outboxReasons(directory) == [])

        try blocker.execute("COMMIT")
        #expect(await center.flush())
        #expect(try Self.outboxReasons(directory) == ["firing"])
        #expect(center.outboxStatistics(now: 2_000).map(\.depth) == [1])
        let restored = try AlertDatabase(path: directory.url.appendingPathComponent("alerts.db").path).loadInstances()
        #expect(restored.map(\.state) == [.firing])
    }

    @Test("a save that fails is retried, with what came after it, in order: nothing is lost")
    func failedSaveIsRetried() async throws {
        let directory = try TemporaryDirectory()
        let center = try Self.makeCenter(directory)
        let blocker = try Self.lockDatabase(directory)
        center.observe([Self.reading(90, at: 1_000)], now: 1_000)
        // The first commit gives up after the busy timeout (5 s). The bound is generous: in a full
        // parallel `swift test` the CPU-bound suites can hold both cooperative threads, and the
        // drain task and this poll then wait for a turn (seen once at 15 s).
        #expect(await eventually(within: .seconds(60)) { center.persistence.lastError != nil })
        center.observe([Self.reading(20, at: 2_000)], now: 2_000)  // resolves while saving fails
        try blocker.execute("COMMIT")
        #expect(await center.flush())
        #expect(center.persistence.lastError == nil)
        #expect(try Self.outboxReasons(directory) == ["firing", "resolved"])
        let restored = try AlertDatabase(path: directory.url.appendingPathComponent("alerts.db").path).loadInstances()
        #expect(restored.map(\.state) == [.resolved])
    }

    @Test("acknowledgements and silences return once saved, and survive a restart")
    func operatorActionsAreSaved() async throws {
        let directory = try TemporaryDirectory()
        do {
            let center = try Self.makeCenter(directory)
            center.observe([Self.reading(90, at: 1_000)], now: 1_000)
            let id = try #require(center.list(now: 1_000).first?.instance.key.id)
            _ = try await center.acknowledge(id: id, ack: AlertAck(by: "op", atMs: 1_100, untilMs: nil, comment: "on it"), now: 1_100)
            try await center.addSilence(Silence(id: "s1", matchers: #"{device="boiler"}"#, startsAtMs: 1_000, endsAtMs: 90_000,
                                                createdBy: "op", comment: ""))
            try await center.expireSilence(id: "s1", now: 5_000)
            await #expect(throws: AlertCenter.APIError.self) { try await center.expireSilence(id: "nope", now: 5_000) }
        }
        let reopened = try Self.makeCenter(directory)
        #expect(reopened.list(now: 6_000).first?.instance.ack?.by == "op")
        #expect(reopened.silences(now: 6_000).map(\.endsAtMs) == [5_000])
    }

    @Test("merged writes: the latest form of an instance or silence wins, notifications keep their order")
    func writesMerge() throws {
        let key = AlertInstance.Key(rule: "Hot", series: "temp")
        var engine = AlertEngine(config: {
            var config = AlertsConfig.empty
            config.selfAlerts = false
            config.rules = [AlertRule(name: "Hot", selector: try! SeriesSelector.parse("temp"), condition: .threshold(.greater, 50, clear: nil))]
            return config
        }(), restored: [], silences: [], gateway: "g", externalURL: "u")
        var writes = engine.observe([Reading(metric: "temp", timestampMs: 0, value: 90)], now: 0).writes
        #expect(writes.instances[key]??.state == .firing)
        writes.merge(engine.observe([Reading(metric: "temp", timestampMs: 1, value: 10)], now: 1).writes)
        #expect(writes.instances[key]??.state == .resolved)
        var forget = AlertWrites()
        forget.forget(key)
        writes.merge(forget)
        #expect(writes.instances[key] == .some(nil))
        writes.queue(.init(notifier: "a", alert: "x", reason: "firing", body: [], createdMs: 0))
        writes.queue(.init(notifier: "a", alert: "x", reason: "resolved", body: [], createdMs: 1))
        #expect(writes.enqueue.map(\.reason) == ["firing", "resolved"])
    }
}
