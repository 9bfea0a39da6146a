#if canImport(Glibc)
import Glibc
#endif
/// Units Vigil converts to one canonical unit per quantity, so that a temperature is always °C and
/// a power always W whatever the device sends. Conversions are exact affine maps; the result is
/// rounded to two more decimal places than the input had, so 71.6 °F is stored as 22 °C, not as
/// 21.999999999999996.
public enum UnitTable {
    public struct Conversion: Sendable {
        public let canonical: String
        public let scale: Double
        public let offset: Double

        /// Decimal places the result keeps beyond the input's: two, plus the places a scale
        /// below one moves the value (1 Wh is 0.001 kWh, not 0.00).
        var extraDecimals: Int {
            var shifted = scale
            var places = 0
            while shifted > 0, shifted < 0.999_999, places < 7 {
                shifted *= 10
                places += 1
            }
            return 2 + places
        }
    }

    /// Spelling → (canonical unit, scale, offset): canonical = value × scale + offset. Looked up
    /// as spelled first (`mW` is not `MW`), then in any case where that is unambiguous (`KWH`,
    /// `Celsius`). Every reading with a unit is looked up, so both are `UnitSpellings` tables: no
    /// allocation and no SipHash per reading (a `Dictionary` plus `lowercased()` for the
    /// any-case try cost 4 % of ingest CPU).
    static let conversions = UnitSpellings(table.exact, ignoringCase: false)
    static let anyCase = UnitSpellings(table.anyCase, ignoringCase: true)

    private static let table: (exact: [String: Conversion], anyCase: [String: Conversion]) = {
        var table: [String: Conversion] = [:]
        var anyCase: [String: Conversion] = [:]
        var ambiguous = Set<String>()
        func add(_ names: [String], _ canonical: String, _ scale: Double, _ offset: Double = 0) {
            for name in names {
                let conversion = Conversion(canonical: canonical, scale: scale, offset: offset)
                table[name] = conversion
                if anyCase.updateValue(conversion, forKey: name.lowercased()) != nil { ambiguous.insert(name.lowercased()) }
            }
        }
        add(["°C", "degC", "celsius", "Cel"], "°C", 1)
        add(["°F", "degF", "fahrenheit", "[degF]"], "°C", 5.0 / 9.0, -32 * 5.0 / 9.0)
        add(["K", "kelvin"], "°C", 1, -273.15)
        add(["W", "watt"], "W", 1)
        add(["mW"], "W", 0.001)
        add(["kW"], "W", 1000)
        add(["MW"], "W", 1_000_000)
        add(["kWh"], "kWh", 1)
        add(["Wh"], "kWh", 0.001)
        add(["MWh"], "kWh", 1000)
        add(["J"], "kWh", 1.0 / 3_600_000)
        add(["kJ"], "kWh", 1.0 / 3600)
        add(["hPa", "mbar"], "hPa", 1)
        add(["Pa"], "hPa", 0.01)
        add(["kPa"], "hPa", 10)
        add(["bar"], "hPa", 1000)
        add(["psi"], "hPa", 68.947572932)
        add(["V"], "V", 1)
        add(["mV"], "V", 0.001)
        add(["kV"], "V", 1000)
        add(["A"], "A", 1)
        add(["mA"], "A", 0.001)
        add(["Hz"], "Hz", 1)
        add(["kHz"], "Hz", 1000)
        add(["m/s"], "m/s", 1)
        add(["km/h"], "m/s", 1.0 / 3.6)
        add(["%", "%RH"], "%", 1)
        for name in ambiguous { anyCase[name] = nil }
        return (table, anyCase)
    }()

    /// The canonical form of `value` in `unit`; nil when the unit is not in the table (the value
    /// is then kept as it is, with its unit).
    public static func convert(_ value: Double, from unit: String) -> (value: Double, unit: String)? {
        guard let conversion = conversions[unit] ?? anyCase[unit] else { return nil }
        if conversion.scale == 1, conversion.offset == 0 { return (value, conversion.canonical) }
        return (round(value * conversion.scale + conversion.offset, decimalsOf: value, extra: conversion.extraDecimals),
                conversion.canonical)
    }

    /// Rounds to the input's decimal places plus `extra` (at most 9), which removes binary noise
    /// from a conversion without inventing or losing precision the input had.
    static func round(_ value: Double, decimalsOf input: Double, extra: Int) -> Double {
        var decimals = 0
        var scaled = input
        while decimals < 7, scaled != scaled.rounded() {
            scaled *= 10
            decimals += 1
        }
        let places = min(9, decimals + extra)
        var factor = 1.0
        for _ in 0..<places { factor *= 10 }
        let rounded = (value * factor).rounded() / factor
        return rounded.isFinite ? rounded : value
    }
}
