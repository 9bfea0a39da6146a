import VigilCore

/// Options of the `json` payload format (docs/configuration.md).
public struct JSONPayloadOptions: Sendable {
    public struct Field: Sendable {
        public var path: [Substring]
        /// The reading's name; defaults to the path joined with `_`.
        public var name: String?
        public var unit: String?
        public init(path: String, name: String? = nil, unit: String? = nil) {
            self.path = path.split(separator: ".")
            self.name = name
            self.unit = unit
        }
        var defaultName: String { path.joined(separator: "_") }
    }

    /// Empty: every number and boolean of the object (nested objects included) is a reading.
    public var fields: [Field] = []
    /// Where the array of reading objects is (`data.readings`); a payload that is an array is one.
    public var items: [Substring]?
    public var timestampPath: [Substring]?
    public var timestampUnit: PayloadTimestamp.Unit = .auto
    /// Label name → path of a string or number in the object (`device: id`).
    public var labelPaths: [(name: String, path: [Substring])] = []

    public init() {}
}

/// The `json` payload format: one object, an array of objects, or objects under `items`.
enum JSONPayloadDecoder {
    static func decode(_ payload: [UInt8], options: JSONPayloadOptions) -> DecodedPayload {
        let document: JSONValue
        do {
            document = try JSONValue.parse(payload)
        } catch {
            return String(validating: payload, as: UTF8.self) == nil ? .reject(.invalidUTF8) : .reject(.invalidJSON)
        }
        var objects: [JSONValue]
        if let items = options.items {
            guard case .array(let list)? = document.value(at: items) else { return .reject(.fieldNotFound) }
            objects = list
        } else if case .array(let list) = document {
            objects = list
        } else {
            objects = [document]
        }
        var out = DecodedPayload()
        for object in objects {
            guard case .object = object else {
                out.rejects.append(.wrongType)
                continue
            }
            decodeObject(object, options: options, into: &out)
        }
        return out
    }

    static func decodeObject(_ object: JSONValue, options: JSONPayloadOptions, into out: inout DecodedPayload) {
        var timestamp: Int64?
        if let path = options.timestampPath {
            guard let raw = object.value(at: path) else {
                out.rejects.append(.fieldNotFound)
                return
            }
            guard let ms = PayloadTimestamp.milliseconds(raw, unit: options.timestampUnit) else {
                out.rejects.append(.invalidTimestamp)
                return
            }
            timestamp = ms
        }
        var labels: [PayloadSample.Label] = []
        for (name, path) in options.labelPaths {
            switch object.value(at: path) {
            case .string(let text)?: labels.append(.init(name, text))
            case .number(let number)?: labels.append(.init(name, number.plainText))
            default: break  // an absent label is just absent
            }
        }
        if options.fields.isEmpty {
            var skip: Set<String> = []
            if let path = options.timestampPath { skip.insert(path.joined(separator: ".")) }
            for (_, path) in options.labelPaths { skip.insert(path.joined(separator: ".")) }
            collectLeaves(object, prefix: [], skip: skip, timestamp: timestamp, labels: labels, into: &out)
            return
        }
        for field in options.fields {
            guard let raw = object.value(at: field.path) else {
                out.rejects.append(.fieldNotFound)
                continue
            }
            guard let value = numeric(raw) else {
                out.rejects.append(.wrongType)
                continue
            }
            var sample = PayloadSample(name: field.name ?? field.defaultName, labels: labels, value: value,
                                       timestampMs: timestamp, unit: field.unit)
            sample.exactName = field.name != nil
            out.samples.append(sample)
        }
    }

    /// Every number and boolean under `value`, named by its path; strings, nulls and arrays are skipped.
    static func collectLeaves(_ value: JSONValue, prefix: [String], skip: Set<String>, timestamp: Int64?,
                              labels: [PayloadSample.Label], into out: inout DecodedPayload) {
        guard case .object(let members) = value else { return }
        for (key, member) in members {
            let path = prefix + [key]
            guard !skip.contains(path.joined(separator: ".")) else { continue }
            switch member {
            case .object: collectLeaves(member, prefix: path, skip: skip, timestamp: timestamp, labels: labels, into: &out)
            case .number, .bool:
                out.samples.append(PayloadSample(name: path.joined(separator: "_"), labels: labels, value: numeric(member)!,
                                                 timestampMs: timestamp))
            default: continue
            }
        }
    }

    static func numeric(_ value: JSONValue) -> Double? {
        switch value {
        case .number(let number): return number
        case .bool(let flag): return flag ? 1 : 0
        case .string(let text): return PlainValueParser.parse(Array(text.utf8)).successValue
        default: return nil
        }
    }
}

extension Result {
    var successValue: Success? {
        if case .success(let value) = self { return value }
        return nil
    }
}
