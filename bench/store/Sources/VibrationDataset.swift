import Foundation
import VigilCore

/// The third shape: high-entropy values at 100 Hz on an exact grid, as a vibration or current
/// sensor's float32 ADC readings (a few sines, their harmonics and noise, rounded to float32).
struct VibrationDataset {
    let series: Int
    let hours: Int
    let start: Int64 = 1_767_225_600_000

    func generate(_ body: (SeriesKey, [Int64], [Double]) throws -> Void) rethrows {
        let count = hours * 360_000
        for index in 0..<series {
            var random = Xorshift(UInt64(index + 104_729))
            let current = index % 2 == 1
            let frequency = current ? 50 : 20 + random.uniform() * 40
            let amplitude = current ? 8 + random.uniform() * 8 : 0.3 + random.uniform() * 1.5
            let noise = amplitude * 0.02
            var timestamps = [Int64](repeating: 0, count: count)
            var values = [Double](repeating: 0, count: count)
            for i in 0..<count {
                let seconds = Double(i) / 100
                let phase = 2 * Double.pi * frequency * seconds
                let v = amplitude * (sin(phase) + 0.2 * sin(3 * phase + 0.4)) + random.gaussian() * noise
                timestamps[i] = start + Int64(i) * 10
                values[i] = Double(Float(v))
            }
            let key = SeriesKey(metric: current ? "phase_current_amperes" : "vibration_g", labels: Labels([
                "site": "site-\(index % 3)", "device": "drive-\(index / 2)", "source": "modbus",
            ]))
            try body(key, timestamps, values)
        }
    }
}
