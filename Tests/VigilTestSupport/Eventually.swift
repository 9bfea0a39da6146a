/// Polls `condition` every `interval` until it holds or `timeout` passes, and says whether it
/// held: tests wait for what they expect instead of sleeping a fixed time and hoping.
///
///     #expect(try await eventually(within: .seconds(10)) { try await store.count() == 4 })
@discardableResult
public func eventually(within timeout: Duration = .seconds(10), every interval: Duration = .milliseconds(50),
                       _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return true }
        guard ContinuousClock.now < deadline else { return false }
        try? await Task.sleep(for: interval)
    }
}
