/// Who a live connection belongs to, as the live protocol shows it (`hello`) and as streams are
/// owned (a stream resumes only for the user who opened it). The server maps its principals here.
public struct LiveUser: Sendable, Equatable {
    public let name: String
    /// `viewer`, `operator` or `admin`.
    public let role: String

    public init(name: String, role: String) {
        self.name = name
        self.role = role
    }
}
