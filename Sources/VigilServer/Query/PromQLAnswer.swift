import Hummingbird
import NIOPosix
import VigilCore
import VigilStore

/// Runs a PromQL query on the blocking pool and writes Prometheus's result shapes: `vector` or
/// `scalar` for instant queries, `matrix` for ranges. Parse and evaluation errors are `bad_data`
/// naming the unsupported part.
enum PromQLAnswer {
    static func evaluate(_ text: String, steps: [Int64], range: Bool, store: MetricStore,
                         budget: QueryBudget) async throws -> Response {
        let expr: PromQLExpr
        do { expr = try PromQLParser.parse(text) } catch { return QueryRoutes.badData("\(error)") }
        let engine = PromQLEngine(store: store, budget: budget)
        let value: PromQLEngine.Value
        do {
            value = try await NIOThreadPool.singleton.runIfActive { try engine.evaluate(expr, steps: steps) }
        } catch let error as PromQLEngine.EvaluationError {
            return QueryRoutes.badData(error.description)
        } catch let error as StoreError {
            return QueryRoutes.aborted(error)
        }
        return QueryRoutes.json(QueryJSON.success(range ? matrix(value, steps: steps) : instant(value, at: steps[0])))
    }

    static func instant(_ value: PromQLEngine.Value, at t: Int64) -> String {
        switch value {
        case .scalar(let values):
            return #"{"resultType":"scalar","result":["# + QueryJSON.seconds(t) + ",\"" + QueryJSON.value(values[0]) + "\"]}"
        case .vector(let series):
            var out = #"{"resultType":"vector","result":["#
            var first = true
            for s in series {
                guard let v = s.values[0] else { continue }
                if !first { out += "," }
                first = false
                out += #"{"metric":"# + JSONText.labels(s.labels) + #","value":["# + QueryJSON.seconds(t) + ",\"" + QueryJSON.value(v) + "\"]}"
            }
            return out + "]}"
        }
    }

    static func matrix(_ value: PromQLEngine.Value, steps: [Int64]) -> String {
        let series: [PromQLEngine.Series] = switch value {
        case .scalar(let values): [PromQLEngine.Series(labels: .empty, values: values.map { $0 })]
        case .vector(let series): series
        }
        var out = #"{"resultType":"matrix","result":["#
        var first = true
        for s in series {
            if !first { out += "," }
            first = false
            out += #"{"metric":"# + JSONText.labels(s.labels) + #","values":["#
            var firstPoint = true
            for (i, value) in s.values.enumerated() {
                guard let v = value else { continue }
                if !firstPoint { out += "," }
                firstPoint = false
                out += "[" + QueryJSON.seconds(steps[i]) + ",\"" + QueryJSON.value(v) + "\"]"
            }
            out += "]}"
        }
        return out + "]}"
    }
}
