import VigilCore

/// The shape bench/store measures (`--shape`).
enum Dataset {
    case sensors(SensorDataset)
    case fleet(FleetDataset)
    case vibration(VibrationDataset)

    init?(shape: String, series: Int, hours: Int) {
        switch shape {
        case "sensors": self = .sensors(SensorDataset(series: series, hours: hours))
        case "fleet": self = .fleet(FleetDataset(series: series, hours: hours))
        case "vibration": self = .vibration(VibrationDataset(series: series, hours: hours))
        default: return nil
        }
    }

    func generate(_ body: (SeriesKey, [Int64], [Double]) throws -> Void) rethrows {
        switch self {
        case .sensors(let d): try d.generate(body)
        case .fleet(let d): try d.generate(body)
        case .vibration(let d): try d.generate(body)
        }
    }
}
