/// The `value` payload format: the whole payload is one number (`21.5`, `-3e2`, ` 42 \n`), or a
/// state word: true/on/open/yes → 1, false/off/closed/no → 0 (any case).
public enum PlainValueParser {
    public static let maxLength = 64

    public static func parse(_ payload: [UInt8]) -> Result<Double, PayloadReject> {
        guard !payload.isEmpty else { return .failure(.empty) }
        guard payload.count <= maxLength else { return .failure(.tooLarge) }
        let trimmed: String
        if let ascii = Self.asciiTrimmed(payload) {
            trimmed = ascii
        } else {
            guard let text = String(validating: payload, as: UTF8.self) else { return .failure(.invalidUTF8) }
            trimmed = text.trimmingWhitespace()
        }
        if let value = Double(trimmed) {
            // Double("nan") and Double("inf") parse; readings must be finite.
            return value.isFinite ? .success(value) : .failure(.nonFinite)
        }
        switch trimmed.lowercased() {
        case "true", "on", "open", "yes": return .success(1)
        case "false", "off", "closed", "no": return .success(0)
        default: return .failure(.notANumber)
        }
    }

    /// The payload without ASCII whitespace around it, when it is ASCII throughout (numbers and
    /// state words are): no UTF-8 validation or Unicode trimming for the common case. Nil sends
    /// anything else through the general path.
    static func asciiTrimmed(_ payload: [UInt8]) -> String? {
        var start = payload.startIndex, end = payload.endIndex
        while start < end, isASCIISpace(payload[start]) { start += 1 }
        while end > start, isASCIISpace(payload[end - 1]) { end -= 1 }
        for byte in payload[start..<end] where byte >= 0x80 { return nil }
        return String(decoding: payload[start..<end], as: UTF8.self)
    }

    private static func isASCIISpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (0x09...0x0D).contains(byte)
    }
}

/// Why a payload produced no reading. `rawValue` is the `reason` label of
/// `vigil_ingest_rejected_total`.
public enum PayloadReject: String, Error, Sendable, CaseIterable {
    case empty = "empty_payload"
    case tooLarge = "payload_too_large"
    case invalidUTF8 = "invalid_utf8"
    case notANumber = "not_a_number"
    case nonFinite = "non_finite_value"
    case noSubscription = "no_matching_subscription"
    case topicMismatch = "topic_pattern_mismatch"
    case invalidMetricName = "invalid_metric_name"
    case invalidJSON = "invalid_json"
    case invalidSenML = "invalid_senml"
    case invalidLineProtocol = "invalid_line_protocol"
    case fieldNotFound = "field_not_found"
    case wrongType = "wrong_type"
    case invalidTimestamp = "invalid_timestamp"
    case outOfBounds = "out_of_bounds"
    case clockSkew = "clock_skew"
    case tooOld = "too_old"
    case duplicate = "duplicate"
    case frameTooLong = "frame_too_long"
    case invalidFrame = "invalid_frame"
    case checksumMismatch = "checksum_mismatch"
    case noPatternMatch = "no_pattern_match"
    case columnCount = "column_count"
    case replyTimeout = "reply_timeout"
    case modbusException = "modbus_exception"
    case invalidSparkplug = "invalid_sparkplug"
    case sparkplugTopic = "sparkplug_bad_topic"
    case sparkplugNoBirth = "sparkplug_no_birth"
    case sparkplugUnknownAlias = "sparkplug_unknown_alias"
    case sparkplugTooManyNodes = "sparkplug_too_many_nodes"
    case unsupportedType = "unsupported_type"
    case nullValue = "null_value"
    case transientValue = "transient_value"

    public var explanation: String {
        switch self {
        case .empty: "the payload is empty"
        case .tooLarge: "the payload is larger than its format allows (64 bytes for a plain value, 256 KiB otherwise)"
        case .invalidUTF8: "the payload is not valid UTF-8"
        case .notANumber: "the payload is not a number or a state word (on/off, open/closed, true/false)"
        case .nonFinite: "NaN and infinite values are not stored"
        case .noSubscription: "no subscription's topic filter matches the topic"
        case .topicMismatch: "the topic does not have the shape of the subscription's pattern"
        case .invalidMetricName: "no valid metric name can be made from the topic or payload"
        case .invalidJSON: "the payload is not valid JSON"
        case .invalidSenML: "the payload is not valid SenML JSON (RFC 8428)"
        case .invalidLineProtocol: "a line is not valid Influx line protocol"
        case .fieldNotFound: "a configured field (value, timestamp or items) is not in the payload"
        case .wrongType: "a field holds something other than a number, a boolean or a numeric string"
        case .invalidTimestamp: "the timestamp cannot be read as a time, or lies outside the years 1-9999"
        case .outOfBounds: "the value is outside the bounds configured for its metric"
        case .clockSkew: "the device timestamp is further in the future than normalize.max_clock_skew allows"
        case .tooOld: "the device timestamp is older than normalize.max_age (default: store.retention) allows"
        case .duplicate: "the same series, device timestamp and value arrived before (within normalize.dedup_window): a redelivery or a repeat within the payload"
        case .frameTooLong: "a serial line or frame is longer than max_frame; it was dropped up to the next terminator"
        case .invalidFrame: "bytes outside a frame (before the start marker) or a frame of the wrong shape"
        case .checksumMismatch: "an NMEA 0183 sentence whose checksum does not match"
        case .noPatternMatch: "the line does not match the port's regular expression"
        case .columnCount: "a CSV line has fewer columns than configured"
        case .replyTimeout: "a polled device did not answer its command in time"
        case .modbusException: "a Modbus device answered a read with an exception (the payload names it)"
        case .invalidSparkplug: "the payload is not a Sparkplug B protobuf payload"
        case .sparkplugTopic: "the topic is not spBv1.0/<group>/<type>/<node>[/<device>] with a known message type"
        case .sparkplugNoBirth: "Sparkplug data from an edge node or device whose birth (NBIRTH/DBIRTH) was not seen in this session; a rebirth is requested"
        case .sparkplugUnknownAlias: "a Sparkplug metric's alias was not defined by its birth; a rebirth is requested"
        case .sparkplugTooManyNodes: "more Sparkplug edge nodes and devices than sparkplug.max_nodes allows on this subscription"
        case .unsupportedType: "the value is not a number or a boolean (a string, date, bytes, data set, template or array)"
        case .nullValue: "the metric says its value is null"
        case .transientValue: "the metric is marked transient: Sparkplug says it must not be stored"
        }
    }
}

import FoundationEssentials
import VigilCore
