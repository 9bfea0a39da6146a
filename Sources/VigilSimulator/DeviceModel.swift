/// Simulated field devices. Values move as bounded random walks (an Ornstein–Uhlenbeck process:
/// each step pulls back toward a set point plus a random kick), quantized to the resolution real
/// sensors report, so stored data compresses and charts like the real thing.
struct SimulatedDevice {
    enum Kind: CaseIterable {
        case room, fridge, boiler, meter
    }

    let site: String
    let name: String
    let kind: Kind
    private var temperature: Walk
    private var humidity: Walk
    private var power: Walk
    private var energyKWh: Double
    private var doorOpen = false
    private var doorOpenTicks = 0

    init(site: String, index: Int, random: inout SplitMix64) {
        self.site = site
        kind = Kind.allCases[index % Kind.allCases.count]
        let number = String(index / Kind.allCases.count + 1).leftPadded(to: 2)
        switch kind {
        case .room:
            name = "room-\(number)"
            temperature = Walk(mean: 21 + random.uniform(-1.5, 1.5), pull: 0.02, kick: 0.08, resolution: 0.1, range: 10...35)
            power = Walk(mean: 0, pull: 0, kick: 0, resolution: 1, range: 0...0)
        case .fridge:
            name = "fridge-\(number)"
            temperature = Walk(mean: 4 + random.uniform(-0.5, 0.5), pull: 0.05, kick: 0.05, resolution: 0.1, range: -5...20)
            power = Walk(mean: 90, pull: 0.1, kick: 6, resolution: 0.001, range: 0...400)
        case .boiler:
            name = "boiler-\(number)"
            temperature = Walk(mean: 70 + random.uniform(-5, 5), pull: 0.03, kick: 0.3, resolution: 0.1, range: 20...95)
            power = Walk(mean: 2400, pull: 0.05, kick: 60, resolution: 0.001, range: 0...6000)
        case .meter:
            name = "meter-\(number)"
            temperature = Walk(mean: 30, pull: 0.02, kick: 0.05, resolution: 0.1, range: 0...60)
            power = Walk(mean: 1200 + random.uniform(-300, 300), pull: 0.02, kick: 35, resolution: 0.001, range: 0...20000)
        }
        humidity = Walk(mean: 45 + random.uniform(-8, 8), pull: 0.02, kick: 0.6, resolution: 0.5, range: 5...95)
        energyKWh = (random.uniform(1000, 90000) * 1000).rounded() / 1000
        temperature.start(&random)
        humidity.start(&random)
        power.start(&random)
    }

    /// Advances one tick of `seconds` and returns the (metric, payload) pairs to publish.
    mutating func step(seconds: Double, random: inout SplitMix64) -> [(metric: String, payload: String)] {
        switch kind {
        case .room:
            return [("temperature", temperature.step(&random)), ("humidity", humidity.step(&random))]
        case .fridge:
            stepDoor(random: &random)
            // An open door warms the fridge.
            temperature.bias = doorOpen ? 0.15 : 0
            return [("temperature", temperature.step(&random)), ("door", doorOpen ? "open" : "closed"),
                    ("power", power.step(&random))]
        case .boiler:
            return [("temperature", temperature.step(&random)), ("power", power.step(&random))]
        case .meter:
            let watts = power.step(&random)
            energyKWh += (Double(watts) ?? 0) * seconds / 3_600_000
            return [("power", watts), ("energy", Walk.format(energyKWh, resolution: 0.001))]
        }
    }

    private mutating func stepDoor(random: inout SplitMix64) {
        if doorOpen {
            doorOpenTicks += 1
            if random.uniform(0, 1) < 0.08 { doorOpen = false }
        } else if random.uniform(0, 1) < 0.01 {
            doorOpen = true
            doorOpenTicks = 0
        }
    }
}

/// A mean-reverting random walk with a fixed output resolution.
struct Walk {
    var mean: Double
    let pull: Double
    let kick: Double
    let resolution: Double
    let range: ClosedRange<Double>
    var value = 0.0
    var bias = 0.0

    init(mean: Double, pull: Double, kick: Double, resolution: Double, range: ClosedRange<Double>) {
        self.mean = mean
        self.pull = pull
        self.kick = kick
        self.resolution = resolution
        self.range = range
        self.value = mean
    }

    mutating func start(_ random: inout SplitMix64) {
        value = min(max(mean + random.gaussian() * kick * 4, range.lowerBound), range.upperBound)
    }

    mutating func step(_ random: inout SplitMix64) -> String {
        value += pull * (mean - value) + bias + kick * random.gaussian()
        value = min(max(value, range.lowerBound), range.upperBound)
        return Walk.format(value, resolution: resolution)
    }

    /// Quantizes and prints with exactly the decimals the resolution has (21.3, 45.5, 1234.567).
    static func format(_ value: Double, resolution: Double) -> String {
        let decimals = resolution >= 1 ? 0 : Int((-log10(resolution)).rounded())
        let quantized = (value / resolution).rounded() * resolution
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = Int64((quantized * scale).rounded())
        guard decimals > 0 else { return String(scaled) }
        let sign = scaled < 0 ? "-" : ""
        let magnitude = scaled.magnitude
        let whole = magnitude / UInt64(scale)
        let fraction = String(magnitude % UInt64(scale)).leftPadded(to: decimals)
        return "\(sign)\(whole).\(fraction)"
    }
}

/// A small, fast, seedable generator (SplitMix64), so `--seed` reproduces a run exactly.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func uniform(_ low: Double, _ high: Double) -> Double {
        low + (high - low) * Double(next() >> 11) / Double(1 << 53)
    }

    /// Standard normal (Box–Muller).
    mutating func gaussian() -> Double {
        let u1 = max(uniform(0, 1), .leastNonzeroMagnitude)
        let u2 = uniform(0, 1)
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif
