import Foundation
import VigilCore

/// The second shape (issue 16's independent dataset, rebuilt from its description): devices with
/// four series each that share one timestamp per reading, at 10 s.
///
/// - MQTT devices are stamped on receipt with uniform ±200 ms jitter around their 10 s tick (one
///   payload carries all four values, so the four series share the timestamp); Modbus meters are
///   polled on an exact grid.
/// - Environment sensors: temperature at 0.1 with rare glitches (85.0 and -127.0, the values a
///   DS18B20 reports on power-on and on a lost bus), humidity in 0.5 steps, a constant setpoint,
///   a rarely flipping door state.
/// - Meters: power in kW with 3 decimals and step changes, a monotonic energy counter, voltage
///   at 0.1, a rarely flipping relay state.
/// - Trackers: latitude and longitude with 6 decimals, battery in 1 % steps, temperature at 0.1.
/// - About 4 % of the devices go offline 1–3 times for 5 min to 2 h.
struct FleetDataset {
    enum DeviceKind: CaseIterable { case environment, meter, tracker }

    let series: Int
    let hours: Int
    let start: Int64 = 1_767_225_600_000  // 2026-01-01T00:00:00Z
    var devices: Int { (series + 3) / 4 }
    var ticks: Int { hours * 360 }

    func generate(_ body: (SeriesKey, [Int64], [Double]) throws -> Void) rethrows {
        var emitted = 0
        for device in 0..<devices {
            var random = Xorshift(UInt64(device + 7_919))
            let kind = DeviceKind.allCases[device % DeviceKind.allCases.count]
            let viaMQTT = kind != .meter
            let offline = outages(&random)
            let names: [String] = switch kind {
            case .environment: ["temperature", "humidity", "setpoint", "door_open"]
            case .meter: ["power_kw", "energy_kwh", "voltage", "relay_on"]
            case .tracker: ["latitude", "longitude", "battery_percent", "temperature"]
            }
            var state: [Double] = switch kind {
            case .environment: [18 + random.uniform() * 8, 40 + random.uniform() * 20, [19, 20, 21, 22][Int(random.next() % 4)], 0]
            case .meter: [1 + random.uniform() * 20, random.uniform() * 500_000, 229 + random.uniform() * 4, 1]
            case .tracker: [47 + random.uniform() * 2, 7 + random.uniform() * 3, 100, 10 + random.uniform() * 10]
            }
            var timestamps: [Int64] = []
            var columns = [[Double]](repeating: [], count: 4)
            for tick in 0..<ticks {
                let base = start + Int64(tick) * 10_000
                if offline.contains(where: { $0.contains(base) }) { continue }
                let t = viaMQTT ? base + Int64(random.next() % 401) - 200 : base
                step(kind, &state, &random)
                timestamps.append(t)
                for column in 0..<4 { columns[column].append(observed(kind, column, state[column], &random)) }
            }
            for column in 0..<4 where emitted < series {
                let key = SeriesKey(metric: names[column], labels: Labels([
                    "site": "site-\(device % 9)", "device": "\(kind)-\(device)", "source": viaMQTT ? "mqtt" : "modbus",
                ]))
                try body(key, timestamps, columns[column])
                emitted += 1
            }
        }
    }

    /// 1–3 outages of 5 min to 2 h for about 4 % of the devices.
    private func outages(_ random: inout Xorshift) -> [Range<Int64>] {
        guard random.uniform() < 0.04 else { return [] }
        let span = Int64(hours) * 3_600_000
        return (0..<(1 + Int(random.next() % 3))).map { _ in
            let from = start + Int64(random.uniform() * Double(span))
            return from..<(from + 300_000 + Int64(random.uniform() * 6_900_000))
        }
    }

    private func step(_ kind: DeviceKind, _ s: inout [Double], _ random: inout Xorshift) {
        switch kind {
        case .environment:
            s[0] += random.gaussian() * 0.03
            s[1] = min(95, max(5, s[1] + random.gaussian() * 0.15))
            if random.uniform() < 0.001 { s[3] = 1 - s[3] }
        case .meter:
            if random.uniform() < 0.003 { s[0] = max(0, s[0] + (random.uniform() - 0.5) * 15) }  // a load switches
            s[1] += s[0] * 10 / 3600  // kWh over 10 s
            s[2] += random.gaussian() * 0.2 - (s[2] - 230) * 0.05
            if random.uniform() < 0.0005 { s[3] = 1 - s[3] }
        case .tracker:
            s[0] += random.gaussian() * 0.00003
            s[1] += random.gaussian() * 0.00003
            if random.uniform() < 0.004 { s[2] = max(0, s[2] - 1) }
            if s[2] == 0 { s[2] = 100 }  // recharged
            s[3] += random.gaussian() * 0.03
        }
    }

    /// What the device reports for a column: quantized to its resolution, now and then a glitch.
    private func observed(_ kind: DeviceKind, _ column: Int, _ value: Double, _ random: inout Xorshift) -> Double {
        func round(_ v: Double, _ scale: Double) -> Double { (v * scale).rounded() / scale }
        switch (kind, column) {
        case (.environment, 0), (.tracker, 3):
            let glitch = random.uniform()
            return glitch < 0.0002 ? 85.0 : glitch < 0.0003 ? -127.0 : round(value, 10)
        case (.environment, 1): return round(value, 2)
        case (.environment, _), (.meter, 3), (.tracker, 2): return value
        case (.meter, 0), (.meter, 1): return round(value + (column == 0 ? random.gaussian() * 0.002 : 0), 1000)
        case (.meter, _): return round(value, 10)
        case (.tracker, _): return round(value, 1_000_000)
        }
    }
}
