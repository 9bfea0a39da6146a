import CMosquitto
import FoundationEssentials
import Synchronization
import VigilCore
#if canImport(Glibc)
import Glibc
#endif

/// The only place where libmosquitto's C API is used: one connection to one broker, driven by a
/// thread of its own. Messages and connection events come out through Swift closures; no caller
/// sees a pointer.
///
/// Why our own loop thread rather than `mosquitto_loop_start`: libmosquitto's built-in loop gives
/// up for good on authentication and TLS errors, and its reconnect delay has no jitter. Here the
/// thread (a `DedicatedThread`) runs `mosquitto_loop` and reconnects with `ReconnectBackoff` until `stop()`.
///
/// `@unchecked Sendable` is safe because: the `mosquitto*` handle is created in `init` and
/// destroyed in `deinit` only (never reassigned); `mosquitto_threaded_set(true)` makes
/// libmosquitto guard its state with its own mutexes, so `publish`/`subscribe`/`disconnect` may be
/// called from any thread while the loop thread runs; everything else mutable is in `Mutex`.
public final class MosquittoClient: @unchecked Sendable {
    public struct Options: Sendable {
        public var host: String
        public var port: Int
        public var clientID: String
        public var cleanSession: Bool
        public var keepalive: Int
        public var username: String?
        public var password: String?
        public var will: Will?
        /// Published after every successful connect, in this order: typically the will's "online"
        /// (the status topic, the Sparkplug host application's STATE).
        public var births: [Will] = []
        /// Filters to (re)subscribe after every connect, even with a persistent session.
        public var subscriptions: [(filter: String, qos: Int)]
        public var reconnectMinimum: Duration
        public var reconnectMaximum: Duration
        public var tls: TLS?
        /// MQTT 5 instead of 3.1.1.
        public var mqtt5 = false
        /// MQTT 5 session expiry interval sent on CONNECT (ignored with a clean session).
        public var sessionExpirySeconds: UInt32 = 0

        public init(host: String, port: Int, clientID: String) {
            self.host = host
            self.port = port
            self.clientID = clientID
            self.cleanSession = true
            self.keepalive = 30
            self.subscriptions = []
            self.reconnectMinimum = .seconds(1)
            self.reconnectMaximum = .seconds(60)
        }
    }

    public struct TLS: Sendable {
        public var caFile: String?
        public var certFile: String?
        public var keyFile: String?
        /// No certificate or host name verification (tests only).
        public var insecure: Bool
        public init(caFile: String?, certFile: String?, keyFile: String?, insecure: Bool) {
            self.caFile = caFile
            self.certFile = certFile
            self.keyFile = keyFile
            self.insecure = insecure
        }
    }

    public struct Will: Sendable {
        public var topic: String
        public var payload: String
        public var qos: Int
        public var retain: Bool
        public init(topic: String, payload: String, qos: Int, retain: Bool) {
            self.topic = topic
            self.payload = payload
            self.qos = qos
            self.retain = retain
        }
    }

    public struct Message: Sendable {
        public let topic: String
        public let payload: [UInt8]
        public let qos: Int
        public let retain: Bool
    }

    public enum Event: Sendable, Equatable {
        case connected
        /// The broker answered CONNACK with a refusal (bad credentials, not authorized, …).
        case refused(String)
        /// The TCP/TLS connection could not be made.
        case connectFailed(String)
        /// An established connection ended.
        case connectionLost(String)
        /// The loop waits this long before the next attempt.
        case retrying(after: Duration)
        case stopped
    }

    private let handle: OpaquePointer
    private let options: Options
    private let callbacks: CallbackBox
    /// The loop thread, once started.
    private let loop = Mutex<DedicatedThread?>(nil)

    /// `onIdle` runs on the loop thread whenever no more data is waiting on the socket: after a
    /// lone message, or at the end of a burst, and at most every 20 ms while a steady stream
    /// flows (`coalescing`). Consumers batch their work until then.
    public init(
        options: Options,
        onMessage: @escaping @Sendable (Message) -> Void,
        onEvent: @escaping @Sendable (Event) -> Void,
        onIdle: @escaping @Sendable () -> Void = {}
    ) throws(MQTTClientError) {
        Mosquitto.initializeLibrary()
        self.options = options
        self.callbacks = CallbackBox(onMessage: onMessage, onEvent: onEvent, onIdle: onIdle)
        let userdata = Unmanaged.passUnretained(callbacks).toOpaque()
        guard let handle = mosquitto_new(options.clientID, options.cleanSession, userdata) else {
            throw MQTTClientError("cannot create MQTT client '\(options.clientID)': \(Mosquitto.errnoDescription())")
        }
        self.handle = handle
        callbacks.client = Unmanaged.passUnretained(self).toOpaque()
        mosquitto_threaded_set(handle, true)
        if options.mqtt5 {
            try check(mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5), "select MQTT 5")
        }
        if let tls = options.tls {
            // Without a CA file, the system's CA store (Debian: /etc/ssl/certs).
            try check(mosquitto_tls_set(handle, tls.caFile, tls.caFile == nil ? "/etc/ssl/certs" : nil, tls.certFile, tls.keyFile, nil),
                      "set up TLS")
            if tls.insecure {
                try check(mosquitto_tls_opts_set(handle, 0, nil, nil), "turn off certificate verification")
                try check(mosquitto_tls_insecure_set(handle, true), "turn off host name verification")
            }
        }
        if let username = options.username {
            try check(mosquitto_username_pw_set(handle, username, options.password), "set credentials")
        }
        if let will = options.will {
            let bytes = Array(will.payload.utf8)
            try check(mosquitto_will_set(handle, will.topic, Int32(bytes.count), bytes, Int32(will.qos), will.retain),
                      "set will message on \(will.topic)")
        }
        mosquitto_connect_callback_set(handle, onConnectCallback)
        mosquitto_message_callback_set(handle, onMessageCallback)
    }

    deinit {
        mosquitto_destroy(handle)
    }

    /// Starts the loop thread. It connects, reconnects with backoff, and runs until `stop()`.
    public func start() {
        loop.withLock { loop in
            guard loop == nil else { return }
            loop = DedicatedThread.start(name: "mqtt-\(options.clientID)") { [self] thread in runLoop(on: thread) }
        }
    }

    /// Disconnects cleanly (no will) and waits for the loop thread to end, without blocking the
    /// calling task's thread.
    public func stop() async {
        guard let thread = loop.withLock({ $0 }) else { return }
        thread.requestStop()
        mosquitto_disconnect(handle)
        await thread.waitUntilExited()
    }

    public func publish(topic: String, payload: [UInt8], qos: Int, retain: Bool) throws(MQTTClientError) {
        let rc = payload.withUnsafeBytes { bytes in
            mosquitto_publish(handle, nil, topic, Int32(bytes.count), bytes.baseAddress, Int32(qos), retain)
        }
        try check(rc, "publish to \(topic)")
    }

    public func publish(topic: String, payload: String, qos: Int, retain: Bool) throws(MQTTClientError) {
        try publish(topic: topic, payload: Array(payload.utf8), qos: qos, retain: retain)
    }

    /// Drops the connection; the loop reconnects after the usual backoff. For the liveness
    /// watchdog: a connection that is up but delivers nothing is worth less than a fresh one.
    public func forceReconnect() {
        mosquitto_disconnect(handle)
    }

    private func connect() -> Int32 {
        guard options.mqtt5 else {
            return mosquitto_connect(handle, options.host, Int32(options.port), Int32(options.keepalive))
        }
        // libmosquitto keeps these CONNECT properties for its reconnects.
        var properties: OpaquePointer?
        if !options.cleanSession, options.sessionExpirySeconds > 0 {
            mosquitto_property_add_int32(&properties, Int32(MQTT_PROP_SESSION_EXPIRY_INTERVAL.rawValue), options.sessionExpirySeconds)
        }
        defer { mosquitto_property_free_all(&properties) }
        return mosquitto_connect_bind_v5(handle, options.host, Int32(options.port), Int32(options.keepalive), nil, properties)
    }

    /// A connection the broker closes within this of CONNACK counts as short-lived.
    static let shortLived: Duration = .seconds(60)
    /// Short-lived connections in a row after which the loss names the likeliest cause.
    static let shortLivedHint = 3

    /// Why a connection that got its CONNACK was lost, with a hint when the broker keeps closing
    /// connections soon after they are made: that is what two clients with one client id look
    /// like (each connect takes the session from the other), and mosquitto 2.0 closes the
    /// connection without a word why, even to an MQTT 5 client.
    private func lossReason(loopRC: Int32, shortLivedInARow: Int) -> String {
        let reason = Mosquitto.describe(loopRC)
        guard shortLivedInARow >= Self.shortLivedHint else { return reason }
        return reason + " (\(shortLivedInARow) connections in a row closed within a minute: another client may be using client id '\(options.clientID)')"
    }

    private func runLoop(on thread: DedicatedThread) {
        var backoff = ReconnectBackoff(minimum: options.reconnectMinimum, maximum: options.reconnectMaximum)
        var everConnected = false
        var shortLivedInARow = 0
        while !thread.stopping {
            let rc = everConnected ? mosquitto_reconnect(handle) : connect()
            if rc == MOSQ_ERR_SUCCESS.rawValue {
                everConnected = true
                let connectedAt = ContinuousClock.now
                var loopRC: Int32 = MOSQ_ERR_SUCCESS.rawValue
                // Messages since the last idle call. While some are waiting to be handed on, the
                // loop does not block: a pass that reads nothing means the socket is drained, and
                // the burst is handed on (a poll after every message cost a syscall per message) —
                // but at most every `coalescing`: before that the thread sleeps and lets the next
                // pieces gather in the socket. A broker busy with other subscribers writes a
                // steady stream in small pieces: at 10 000 messages/s, waking for each (1 700
                // context switches a second) and handing each on took 10–12 % of a core; 5 % now.
                var unflushed = false
                var lastIdle = ContinuousClock.now
                while !thread.stopping, loopRC == MOSQ_ERR_SUCCESS.rawValue {
                    let before = callbacks.messages
                    loopRC = mosquitto_loop(handle, unflushed ? 0 : 1000, 1)
                    if callbacks.messages != before {
                        unflushed = true
                        if loopRC == MOSQ_ERR_SUCCESS.rawValue { loopRC = readBurst() }
                    } else if unflushed {
                        let waited = ContinuousClock.now - lastIdle
                        if waited >= Self.coalescing {
                            unflushed = false
                            lastIdle = .now
                            callbacks.onIdle()
                        } else {
                            Self.sleep(Self.coalescing - waited)
                        }
                    }
                }
                callbacks.onIdle()
                if thread.stopping { break }
                // The TCP connect succeeds before TLS and CONNACK: without a CONNACK this attempt
                // failed to connect (a TLS error, say) rather than losing a connection.
                let gotConnack = callbacks.connectedSinceLastCheck()
                if gotConnack {
                    shortLivedInARow = ContinuousClock.now - connectedAt < Self.shortLived ? shortLivedInARow + 1 : 0
                }
                if callbacks.takeRefusal() == nil {
                    callbacks.onEvent(gotConnack
                        ? .connectionLost(lossReason(loopRC: loopRC, shortLivedInARow: shortLivedInARow))
                        : .connectFailed(Mosquitto.describe(loopRC)))
                }
                // A connection that lasted resets the backoff; one that dies at once does not.
                if gotConnack, ContinuousClock.now - connectedAt > .seconds(30) { backoff.reset() }
            } else {
                callbacks.onEvent(.connectFailed(Mosquitto.describe(rc)))
            }
            let delay = backoff.nextDelay()
            callbacks.onEvent(.retrying(after: delay))
            thread.sleep(for: delay)
        }
        callbacks.onEvent(.stopped)
    }

    /// In a burst, reads the packets already waiting without a `pselect` before each one
    /// (`mosquitto_loop` selects on every call: 10 % of ingest CPU at 60 000 messages/s). Stops at
    /// the first read that brings no message (the socket is drained, or a packet is incomplete or
    /// not a PUBLISH) or after `burstReads`, so that `mosquitto_loop` still runs often for
    /// keepalive, retries and queued writes.
    private func readBurst() -> Int32 {
        for _ in 0..<Self.burstReads {
            let before = callbacks.messages
            let rc = mosquitto_loop_read(handle, 1)
            if rc != MOSQ_ERR_SUCCESS.rawValue || callbacks.messages == before { return rc }
        }
        return MOSQ_ERR_SUCCESS.rawValue
    }

    private static let burstReads = 256

    /// The shortest time between two hand-offs of a steady stream: its readings reach the store
    /// and the consoles at most this much later. A message after a quiet spell is handed on at
    /// once.
    public static let coalescing: Duration = .milliseconds(20)

    private static func sleep(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        _ = nanosleep(&request, nil)
    }

    /// Runs in the loop thread from the CONNACK callback.
    fileprivate func handleConnack(_ rc: Int32) {
        guard rc == 0 else {
            let reason = options.mqtt5 ? String(cString: mosquitto_reason_string(rc)) : String(cString: mosquitto_connack_string(rc))
            callbacks.recordRefusal(reason)
            callbacks.onEvent(.refused(reason))
            return
        }
        for subscription in options.subscriptions {
            let result = mosquitto_subscribe(handle, nil, subscription.filter, Int32(subscription.qos))
            if result != MOSQ_ERR_SUCCESS.rawValue {
                callbacks.onEvent(.connectionLost("subscribe to \(subscription.filter) failed: \(Mosquitto.describe(result))"))
            }
        }
        for birth in options.births {
            try? publish(topic: birth.topic, payload: birth.payload, qos: birth.qos, retain: birth.retain)
        }
        callbacks.markConnected()
        callbacks.onEvent(.connected)
    }

    private func check(_ rc: Int32, _ action: String) throws(MQTTClientError) {
        guard rc == MOSQ_ERR_SUCCESS.rawValue else {
            throw MQTTClientError("cannot \(action): \(Mosquitto.describe(rc))")
        }
    }
}

public struct MQTTClientError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// What the C callbacks reach through their `void*` userdata. Owned (retained) by the client.
/// `@unchecked Sendable`: `client` is written once in the client's init before the loop thread
/// exists; `messages` is only touched by the loop thread (the message callback runs inside
/// `mosquitto_loop` on it); the closures are `@Sendable`; the rest is in a `Mutex`.
private final class CallbackBox: @unchecked Sendable {
    let onMessage: @Sendable (MosquittoClient.Message) -> Void
    let onEvent: @Sendable (MosquittoClient.Event) -> Void
    let onIdle: @Sendable () -> Void
    var client: UnsafeMutableRawPointer?
    /// Messages delivered so far; read and written on the loop thread only.
    var messages = 0
    private let flags = Mutex((refusal: String?.none, connected: false))

    init(onMessage: @escaping @Sendable (MosquittoClient.Message) -> Void,
         onEvent: @escaping @Sendable (MosquittoClient.Event) -> Void,
         onIdle: @escaping @Sendable () -> Void) {
        self.onMessage = onMessage
        self.onEvent = onEvent
        self.onIdle = onIdle
    }

    func recordRefusal(_ reason: String) { flags.withLock { $0.refusal = reason } }
    func takeRefusal() -> String? {
        flags.withLock { flags in
            defer { flags.refusal = nil }
            return flags.refusal
        }
    }
    func markConnected() { flags.withLock { $0.connected = true } }
    func connectedSinceLastCheck() -> Bool {
        flags.withLock { flags in
            defer { flags.connected = false }
            return flags.connected
        }
    }
}

private func box(_ userdata: UnsafeMutableRawPointer?) -> CallbackBox? {
    guard let userdata else { return nil }
    return Unmanaged<CallbackBox>.fromOpaque(userdata).takeUnretainedValue()
}

private let onConnectCallback: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int32) -> Void = { _, userdata, rc in
    guard let box = box(userdata), let client = box.client else { return }
    Unmanaged<MosquittoClient>.fromOpaque(client).takeUnretainedValue().handleConnack(rc)
}

private let onMessageCallback: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, UnsafePointer<mosquitto_message>?) -> Void = {
    _, userdata, message in
    guard let box = box(userdata), let message else { return }
    let topic = String(cString: message.pointee.topic)
    let count = Int(max(0, message.pointee.payloadlen))
    let payload: [UInt8] = count == 0 || message.pointee.payload == nil
        ? [] : Array(UnsafeRawBufferPointer(start: message.pointee.payload, count: count))
    box.messages &+= 1
    box.onMessage(.init(topic: topic, payload: payload, qos: Int(message.pointee.qos), retain: message.pointee.retain))
}

enum Mosquitto {
    private static let initialized: Bool = {
        mosquitto_lib_init()
        return true
    }()

    static func initializeLibrary() { _ = initialized }

    static func describe(_ rc: Int32) -> String {
        if rc == MOSQ_ERR_ERRNO.rawValue { return errnoDescription() }
        return String(cString: mosquitto_strerror(rc))
    }

    static func errnoDescription() -> String { String(cString: strerror(errno)) }
}
