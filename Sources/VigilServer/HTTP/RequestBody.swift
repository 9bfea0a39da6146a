import FoundationEssentials
import Hummingbird
import NIOCore

/// Request bodies decoded into `Decodable` types, with an answer that names what is wrong.
enum RequestBody {
    static func decode<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch let error as DecodingError {
            throw HTTPError(.badRequest, message: describe(error))
        } catch {
            throw HTTPError(.badRequest, message: "the body must be a JSON object")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func field(_ path: [any CodingKey]) -> String { path.map(\.stringValue).joined(separator: ".") }
        switch error {
        case .typeMismatch(let expected, let context) where !context.codingPath.isEmpty:
            return "'\(field(context.codingPath))' must be \(expected == String.self ? "a string" : "a \(expected)")"
        case .valueNotFound(_, let context) where !context.codingPath.isEmpty:
            return "'\(field(context.codingPath))' must not be null"
        default:
            return "the body must be a JSON object"
        }
    }
}
