extension Double {
    /// This value with exactly `places` decimals (0 to 3), rounded half away from zero, as
    /// printf's `%.Nf` shows report figures (without `String(format:)`, which is full
    /// Foundation's); Swift's own form for non-finite values and from 1e15 up.
    public func fixed(_ places: Int) -> String {
        precondition((0...3).contains(places), "fixed: 0 to 3 decimals")
        guard isFinite, abs(self) < 1e15 else { return "\(self)" }
        let scale: Int64 = [1, 10, 100, 1000][places]
        let scaled = Int64((abs(self) * Double(scale)).rounded())  // checked: below 1e15 × 1000 < 2^63
        let sign = self < 0 && scaled != 0 ? "-" : ""
        guard places > 0 else { return sign + String(scaled) }
        let fraction = String(scaled % scale)
        return sign + String(scaled / scale) + "." + String(repeating: "0", count: places - fraction.count) + fraction
    }
}
