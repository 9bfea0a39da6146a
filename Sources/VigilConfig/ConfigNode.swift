/// A parsed YAML value with its location, after environment substitution.
/// Scalars stay strings: each config key decides how to read its value, so `port: "8443"` and
/// `port: 8443` mean the same and errors can say what was expected.
public struct ConfigNode: Sendable {
    public enum Kind: Sendable {
        case null
        case scalar(String)
        case sequence([ConfigNode])
        case mapping([ConfigEntry])
    }

    public var kind: Kind
    public let location: ConfigLocation

    public init(_ kind: Kind, at location: ConfigLocation) {
        self.kind = kind
        self.location = location
    }

    /// What the node is, for "expected X, found Y" messages.
    public var kindName: String {
        switch kind {
        case .null: "nothing"
        case .scalar: "a value"
        case .sequence: "a list"
        case .mapping: "a mapping"
        }
    }
}

/// One `key: value` pair of a mapping, with the key's own location.
public struct ConfigEntry: Sendable {
    public let key: String
    public let keyLocation: ConfigLocation
    public var value: ConfigNode

    public init(key: String, keyLocation: ConfigLocation, value: ConfigNode) {
        self.key = key
        self.keyLocation = keyLocation
        self.value = value
    }
}
