import VigilCore

/// The benchmark dataset the store targets are measured on: `series` series × `hours` hours at a
/// 10 s interval, shaped like a real site (see bench/README.md):
/// random-walk temperatures at 0.1 resolution, humidity in 0.5 steps, power with 3 decimals and
/// noise, energy counters, rarely changing states, GPS positions with 6 decimals; MQTT devices
/// with jittered timestamps, polled devices on an exact grid; and occasional gaps.
struct SensorDataset {
    enum Kind: CaseIterable { case temperature, humidity, power, energy, state, latitude }

    let series: Int
    let hours: Int
    let start: Int64 = 1_767_225_600_000  // 2026-01-01T00:00:00Z
    var samplesPerSeries: Int { hours * 360 }

    /// Calls `body` once per series with its key and samples.
    func generate(_ body: (SeriesKey, [Int64], [Double]) throws -> Void) rethrows {
        for index in 0..<series {
            var random = Xorshift(UInt64(index + 1))
            let kind = Kind.allCases[index % Kind.allCases.count]
            // Half the devices of each kind publish over MQTT (stamped on receipt), half are polled.
            let jittered = (index / Kind.allCases.count) % 2 == 0
            let key = SeriesKey(metric: "\(kind)", labels: Labels([
                "site": "site-\(index % 7)", "device": "dev-\(index)", "source": jittered ? "mqtt" : "modbus",
            ]))
            var timestamps: [Int64] = []
            var values: [Double] = []
            timestamps.reserveCapacity(samplesPerSeries)
            values.reserveCapacity(samplesPerSeries)
            var level = initial(kind, &random)
            var gapLeft = 0
            for step in 0..<samplesPerSeries {
                if gapLeft > 0 {
                    gapLeft -= 1
                    continue
                }
                if random.uniform() < 0.0005 { gapLeft = Int(random.next() % 60) }  // link outages
                let base = start + Int64(step) * 10_000
                // Receive time = the device's 10 s tick + network and broker latency: mostly a few
                // milliseconds, sometimes tens, rarely hundreds.
                let latency = abs(random.gaussian()) * 8 + (random.uniform() < 0.02 ? random.uniform() * 300 : 0)
                let t = jittered ? base + Int64(latency) : base
                level = next(kind, level, &random)
                timestamps.append(t)
                values.append(quantize(kind, level))
            }
            try body(key, timestamps, values)
        }
    }

    private func initial(_ kind: Kind, _ random: inout Xorshift) -> Double {
        switch kind {
        case .temperature: 15 + random.uniform() * 60
        case .humidity: 30 + random.uniform() * 40
        case .power: 0.5 + random.uniform() * 3
        case .energy: random.uniform() * 100_000
        case .state: 0
        case .latitude: 48 + random.uniform()
        }
    }

    private func next(_ kind: Kind, _ value: Double, _ random: inout Xorshift) -> Double {
        switch kind {
        case .temperature: value + random.gaussian() * 0.08
        case .humidity: min(95, max(5, value + random.gaussian() * 0.4))
        case .power: max(0, value + random.gaussian() * 0.01)
        case .energy: value + random.uniform() * 0.02
        case .state: random.uniform() < 0.002 ? 1 - value : value
        case .latitude: value + random.gaussian() * 0.00002
        }
    }

    private func quantize(_ kind: Kind, _ value: Double) -> Double {
        let scale: Double = switch kind {
        case .temperature: 10
        case .humidity: 2
        case .power, .energy: 1000
        case .state: 1
        case .latitude: 1_000_000
        }
        return (value * scale).rounded() / scale
    }
}

struct Xorshift {
    var state: UInt64
    init(_ seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func gaussian() -> Double {
        let u1 = max(uniform(), .leastNonzeroMagnitude)
        return (-2 * _log(u1)).squareRoot() * _cos(2 * .pi * uniform())
    }
}

import Foundation
func _log(_ x: Double) -> Double { log(x) }
func _cos(_ x: Double) -> Double { cos(x) }
