import VigilCore

/// What a payload says, before the subscription names it and the normalizer checks it: a value,
/// maybe a name (a JSON field, an Influx measurement and field, a SenML name), labels, a device
/// timestamp and a unit.
public struct PayloadSample: Sendable, Equatable {
    public var name: String?
    /// The name was configured (a JSON field's `metric`): used as the metric name as it is,
    /// without the subscription's metric in front.
    public var exactName = false
    public var labels: [Label]
    public var value: Double
    /// The time the device put in the payload, if any (Unix milliseconds).
    public var timestampMs: Int64?
    public var unit: String?

    public struct Label: Sendable, Equatable {
        public let name: String
        public let value: String
        public init(_ name: String, _ value: String) { self.name = name; self.value = value }
    }

    public init(name: String? = nil, labels: [Label] = [], value: Double, timestampMs: Int64? = nil, unit: String? = nil) {
        self.name = name
        self.labels = labels
        self.value = value
        self.timestampMs = timestampMs
        self.unit = unit
    }
}

/// The samples a payload gave, and what in it could not be used. One payload can do both: a JSON
/// object with one good and one non-numeric field gives a sample and a reject.
public struct DecodedPayload: Sendable, Equatable {
    public var samples: [PayloadSample] = []
    public var rejects: [PayloadReject] = []

    public init(samples: [PayloadSample] = [], rejects: [PayloadReject] = []) {
        self.samples = samples
        self.rejects = rejects
    }

    static func reject(_ reason: PayloadReject) -> DecodedPayload { DecodedPayload(rejects: [reason]) }
}

/// How a subscription's payloads are read.
public enum PayloadFormat: Sendable {
    case value
    case json(JSONPayloadOptions)
    case influx(InfluxLineParser.Precision)
    case senml(SenMLOptions)
    /// Sparkplug B: stateful (births, aliases, sequence numbers), so `MessageMapper` reads it
    /// through the subscription's `SparkplugSessions`, not through `decode`.
    case sparkplug(SparkplugOptions)

    public var name: String {
        switch self {
        case .value: "value"
        case .json: "json"
        case .influx: "influx"
        case .senml: "senml"
        case .sparkplug: "sparkplug"
        }
    }

    /// Payloads larger than this are rejected before parsing (`payload_too_large`).
    public static let maxPayloadBytes = 256 * 1024

    public func decode(_ payload: [UInt8], receivedMs: Int64) -> DecodedPayload {
        guard !payload.isEmpty else { return .reject(.empty) }
        switch self {
        case .value:
            switch PlainValueParser.parse(payload) {
            case .success(let value): return DecodedPayload(samples: [PayloadSample(value: value)])
            case .failure(let reject): return .reject(reject)
            }
        case .json(let options):
            guard payload.count <= Self.maxPayloadBytes else { return .reject(.tooLarge) }
            return JSONPayloadDecoder.decode(payload, options: options)
        case .influx(let precision):
            guard payload.count <= Self.maxPayloadBytes else { return .reject(.tooLarge) }
            return InfluxPayloadDecoder.decode(payload, precision: precision)
        case .senml(let options):
            guard payload.count <= Self.maxPayloadBytes else { return .reject(.tooLarge) }
            return SenMLDecoder.decode(payload, options: options, receivedMs: receivedMs)
        case .sparkplug:
            return .reject(.invalidSparkplug)  // never reached: MessageMapper handles Sparkplug itself
        }
    }
}
