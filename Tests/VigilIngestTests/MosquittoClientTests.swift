import Synchronization
import Testing
import VigilCore
import VigilIngest
import VigilMQTT
import VigilTestSupport

/// The libmosquitto wrapper against a real mosquitto started on a free loopback port.
@Suite("libmosquitto client with a real broker", .serialized)
struct MosquittoClientTests {
    final class Inbox: Sendable {
        let messages = Mutex<[MosquittoClient.Message]>([])
        let events = Mutex<[MosquittoClient.Event]>([])
        var count: Int { messages.withLock { $0.count } }
        func connectedCount() -> Int { events.withLock { $0.filter { $0 == .connected }.count } }
    }

    func client(port: Int, id: String, subscriptions: [(String, Int)] = [], inbox: Inbox) throws -> MosquittoClient {
        var options = MosquittoClient.Options(host: "127.0.0.1", port: port, clientID: id)
        options.subscriptions = subscriptions.map { (filter: $0.0, qos: $0.1) }
        options.reconnectMinimum = .milliseconds(100)
        options.reconnectMaximum = .milliseconds(500)
        return try MosquittoClient(options: options,
                                   onMessage: { message in inbox.messages.withLock { $0.append(message) } },
                                   onEvent: { event in inbox.events.withLock { $0.append(event) } })
    }

    func wait(until condition: () -> Bool, timeout: Duration = .seconds(10)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            guard ContinuousClock.now < deadline else { throw TestFailure("condition not met within \(timeout)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Two clients with one client id take the session from each other on every connect; mosquitto
    /// says nothing why, to MQTT 3.1.1 or 5 clients. Once connections keep being closed soon after
    /// they are made, the loss names the likeliest cause.
    @Test(arguments: [true, false]) func twoClientsWithOneClientIDAreNamedAsTheCause(mqtt5: Bool) async throws {
        let broker = try await MosquittoBroker()
        defer { broker.stop() }
        let inboxes = [Inbox(), Inbox()]
        let twins = try inboxes.map { inbox in
            var options = MosquittoClient.Options(host: "127.0.0.1", port: broker.port, clientID: "twin")
            options.mqtt5 = mqtt5
            options.reconnectMinimum = .milliseconds(100)
            options.reconnectMaximum = .milliseconds(300)
            return try MosquittoClient(options: options, onMessage: { _ in }, onEvent: { event in inbox.events.withLock { $0.append(event) } })
        }
        for twin in twins { twin.start() }
        func losses() -> [String] {
            inboxes.flatMap { inbox in
                inbox.events.withLock { $0.compactMap { event in if case .connectionLost(let reason) = event { reason } else { nil } } }
            }
        }
        let hint = "connections in a row closed within a minute: another client may be using client id 'twin'"
        try await wait(until: { losses().contains { $0.contains(hint) } }, timeout: .seconds(20))
        // The first losses of a fight carry no hint: one lost connection says nothing.
        #expect(!losses().prefix(2).contains { $0.contains(hint) }, "\(losses())")
        for twin in twins { await twin.stop() }
    }

    @Test func publishAndSubscribeRoundTrip() async throws {
        let broker = try await MosquittoBroker()
        defer { broker.stop() }
        let inbox = Inbox()
        let subscriber = try client(port: broker.port, id: "test-sub", subscriptions: [("t/#", 1)], inbox: inbox)
        subscriber.start()
        try await wait { inbox.connectedCount() == 1 }
        let publisherInbox = Inbox()
        let publisher = try client(port: broker.port, id: "test-pub", inbox: publisherInbox)
        publisher.start()
        try await wait { publisherInbox.connectedCount() == 1 }
        for i in 0..<100 { try publisher.publish(topic: "t/\(i)", payload: "\(i)", qos: 1, retain: false) }
        try await wait { inbox.count == 100 }
        let payloads = inbox.messages.withLock { $0.map { String(decoding: $0.payload, as: UTF8.self) } }
        #expect(payloads == (0..<100).map(String.init))
        await publisher.stop()
        await subscriber.stop()
        #expect(inbox.events.withLock { $0.last } == .stopped)
    }

    /// A steady trickle (a message every 2 ms, as a broker busy with other subscribers writes) is
    /// handed on every `coalescing` or so, not once per message; a message after a quiet spell at
    /// once; every message arrives.
    @Test func aSteadyStreamIsHandedOnInSlicesALoneMessageAtOnce() async throws {
        let broker = try await MosquittoBroker()
        defer { broker.stop() }
        let inbox = Inbox()
        let handOffs = Mutex<[(at: ContinuousClock.Instant, messages: Int)]>([])
        var options = MosquittoClient.Options(host: "127.0.0.1", port: broker.port, clientID: "test-slices")
        options.subscriptions = [(filter: "s/#", qos: 0)]
        let subscriber = try MosquittoClient(options: options,
                                             onMessage: { message in inbox.messages.withLock { $0.append(message) } },
                                             onEvent: { event in inbox.events.withLock { $0.append(event) } },
                                             onIdle: { let count = inbox.count; handOffs.withLock { $0.append((.now, count)) } })
        subscriber.start()
        try await wait { inbox.connectedCount() == 1 }
        let publisherInbox = Inbox()
        let publisher = try client(port: broker.port, id: "test-slices-pub", inbox: publisherInbox)
        publisher.start()
        try await wait { publisherInbox.connectedCount() == 1 }

        let before = handOffs.withLock { $0.count }
        let started = ContinuousClock.now
        var last = started
        var pauses = 0  // gaps in the stream of a slice or more: the next message goes on at once
        for i in 0..<400 {
            try publisher.publish(topic: "s/\(i)", payload: "\(i)", qos: 0, retain: false)
            if ContinuousClock.now - last >= MosquittoClient.coalescing { pauses += 1 }
            last = .now
            try await Task.sleep(for: .milliseconds(2))
        }
        let elapsed = ContinuousClock.now - started
        try await wait { inbox.count == 400 }
        try await Task.sleep(for: .milliseconds(100))
        let during = handOffs.withLock { $0.count } - before
        // 400 messages over at least 0.8 s: about 40 slices of 20 ms (not 400 hand-offs), plus one
        // for each pause of the publisher (a loaded machine stretches its 2 ms sleeps).
        let slices = Int(elapsed / MosquittoClient.coalescing)
        #expect(during >= 2 && during < 40 + slices + pauses, "\(during) hand-offs for 400 messages in \(elapsed), \(pauses) pauses")
        #expect(handOffs.withLock { $0.last?.messages } == 400)

        try await Task.sleep(for: .milliseconds(200))
        let sent = ContinuousClock.now
        try publisher.publish(topic: "s/lone", payload: "1", qos: 0, retain: false)
        try await wait { handOffs.withLock { $0.last?.messages } == 401 }
        let delay = handOffs.withLock { $0.last!.at } - sent
        #expect(delay < .milliseconds(15), "a lone message waited \(delay)")
        await publisher.stop()
        await subscriber.stop()
    }

    @Test func connectsOnceTheBrokerAppearsAndResubscribesAfterARestart() async throws {
        let port = TestEnvironment.freePort()
        let inbox = Inbox()
        let subscriber = try client(port: port, id: "test-late", subscriptions: [("late/+", 0)], inbox: inbox)
        subscriber.start()
        try await Task.sleep(for: .milliseconds(300))
        #expect(inbox.events.withLock { $0.contains { if case .connectFailed = $0 { true } else { false } } })

        var broker = try await MosquittoBroker(port: port)
        try await wait { inbox.connectedCount() == 1 }
        broker.stop()
        try await wait { inbox.events.withLock { $0.contains { if case .connectionLost = $0 { true } else { false } } } }
        broker = try await MosquittoBroker(port: port)
        defer { broker.stop() }
        try await wait { inbox.connectedCount() == 2 }

        let publisherInbox = Inbox()
        let publisher = try client(port: port, id: "test-late-pub", inbox: publisherInbox)
        publisher.start()
        try await wait { publisherInbox.connectedCount() == 1 }
        try publisher.publish(topic: "late/x", payload: "1", qos: 0, retain: false)
        try await wait { inbox.count == 1 }
        await publisher.stop()
        await subscriber.stop()
    }

    @Test func stoppingWhileTheBrokerIsDownIsPrompt() async throws {
        let inbox = Inbox()
        let lonely = try client(port: TestEnvironment.freePort(), id: "test-lonely", inbox: inbox)
        lonely.start()
        try await Task.sleep(for: .milliseconds(200))
        let start = ContinuousClock.now
        await lonely.stop()
        #expect(ContinuousClock.now - start < .seconds(2))
    }
}
