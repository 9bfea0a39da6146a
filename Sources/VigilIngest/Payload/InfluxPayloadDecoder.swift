import VigilCore

/// The `influx` payload format: one or more lines of InfluxDB line protocol.
enum InfluxPayloadDecoder {
    static func decode(_ payload: [UInt8], precision: InfluxLineParser.Precision) -> DecodedPayload {
        guard let text = String(validating: payload, as: UTF8.self) else { return .reject(.invalidUTF8) }
        var out = DecodedPayload()
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            do {
                for reading in try InfluxLineParser.parse(line, precision: precision, defaultTimeMs: .min) {
                    out.samples.append(PayloadSample(
                        name: reading.metric, labels: reading.labels.map { .init($0.name, $0.value) }, value: reading.value,
                        timestampMs: reading.timestampMs == .min ? nil : reading.timestampMs))
                }
            } catch {
                out.rejects.append(.invalidLineProtocol)
            }
        }
        if out.samples.isEmpty, out.rejects.isEmpty { out.rejects.append(.empty) }
        return out
    }
}
