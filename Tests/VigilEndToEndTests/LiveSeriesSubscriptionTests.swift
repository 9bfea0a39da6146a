import Foundation
import Testing
import VigilTestSupport

/// A console subscribes to exactly the series on its screen and changes the list as the operator
/// scrolls (docs/live-protocol.md, `series` and `change`): it gets those series and no others.
extension LiveEndToEndTests {
    @Test func aSeriesSubscriptionFollowsWhatIsOnScreen() async throws {
        let live = try await LiveGateway(origins: ["https://127.0.0.1"])
        defer { live.stop() }
        let session = try await live.login()
        for (device, value) in [("boiler-1", 70.5), ("boiler-2", 60.0), ("boiler-3", 50.0)] {
            try await live.broker.publish(topic: "u/\(device)/temperature", payload: "\(value)")
        }
        try await Task.sleep(for: .milliseconds(500))

        @Sendable func values(_ message: [String: Any]) -> [String: Double] {
            var out: [String: Double] = [:]
            for reading in message["readings"] as? [[String: Any]] ?? [] {
                if let labels = reading["labels"] as? [String: String], let device = labels["device"], let v = reading["v"] as? Double { out[device] = v }
            }
            return out
        }
        let client = LiveClient()
        defer { if client.received().isEmpty { print(live.gateway.process.stderr.suffix(2000)) } }
        try await client.run(live, cookie: session.cookie) { client in
            _ = try await client.waitFor { $0["type"] as? String == "hello" }
            // The series' names, as a console learns them (from its catalog or a selector snapshot).
            client.send(#"{"op":"subscribe","id":9,"selector":"temperature"}"#)
            let all = try await client.waitFor { $0["type"] as? String == "snapshot" && $0["sub"] as? Int == 9 }
            let names = Dictionary(uniqueKeysWithValues: (all["readings"] as? [[String: Any]] ?? []).compactMap { reading -> (String, String)? in
                guard let labels = reading["labels"] as? [String: String], let device = labels["device"], let series = reading["series"] as? String,
                      series.hasPrefix("temperature") else { return nil }
                return (device, series)
            })
            #expect(names.count == 3, "\(names)")
            client.send(#"{"op":"unsubscribe","id":9}"#)
            func quoted(_ device: String) -> String {
                let data = try! JSONSerialization.data(withJSONObject: [names[device] ?? ""])
                return String(decoding: data, as: UTF8.self)
            }

            // Only boiler-1: its snapshot carries the unit (the store keeps none) and its history.
            client.send(#"{"op":"subscribe","id":1,"series":\#(quoted("boiler-1")),"history_minutes":5}"#)
            let first = try await client.waitFor { $0["type"] as? String == "snapshot" && $0["sub"] as? Int == 1 }
            #expect(values(first) == ["boiler-1": 70.5])
            #expect((first["readings"] as? [[String: Any]])?.first?["unit"] as? String == "°C")
            #expect((first["history"] as? [[String: Any]])?.count == 1)
            try await Task.sleep(for: .milliseconds(300))  // the unsubscribe of 9 is applied
            for (device, value) in [("boiler-1", 71.0), ("boiler-2", 61.0), ("boiler-3", 51.0)] {
                try await live.broker.publish(topic: "u/\(device)/temperature", payload: "\(value)")
            }
            _ = try await client.waitFor { $0["type"] as? String == "update" && values($0)["boiler-1"] == 71.0 }

            // Scrolled: boiler-2 comes into view, boiler-1 leaves. The snapshot holds only boiler-2.
            client.send(#"{"op":"change","id":1,"add":\#(quoted("boiler-2")),"remove":\#(quoted("boiler-1")),"history_minutes":5}"#)
            let second = try await client.waitFor { $0["type"] as? String == "snapshot" && $0["sub"] as? Int == 1 && values($0)["boiler-2"] != nil }
            #expect(values(second) == ["boiler-2": 61.0])
            #expect((second["history"] as? [[String: Any]])?.first?["series"] as? String == names["boiler-2"])
            for (device, value) in [("boiler-1", 72.0), ("boiler-2", 62.0), ("boiler-3", 52.0)] {
                try await live.broker.publish(topic: "u/\(device)/temperature", payload: "\(value)")
            }
            _ = try await client.waitFor { $0["type"] as? String == "update" && values($0)["boiler-2"] == 62.0 }

            // Mistakes are answered, and the subscription stays as it was.
            client.send(#"{"op":"change","id":5,"add":[]}"#)
            client.send(#"{"op":"subscribe","id":2,"series":["temperature{device=~\"boiler-.*\"}"]}"#)
            client.send(#"{"op":"subscribe","id":3,"series":"temperature"}"#)
            _ = await eventually(within: .seconds(5)) { client.received().filter { $0["type"] as? String == "error" }.count >= 3 }
            try await live.broker.publish(topic: "u/boiler-2/temperature", payload: "63.0")
            _ = try await client.waitFor { $0["type"] as? String == "update" && values($0)["boiler-2"] == 63.0 }
        }
        let seen = client.received()
        let updates = seen.filter { $0["type"] as? String == "update" }.map(values)
        let errors = seen.filter { $0["type"] as? String == "error" }.compactMap { $0["message"] as? String }
        #expect(errors.contains { $0.contains("change 5") && $0.contains("no series subscription") }, "\(errors)")
        #expect(errors.contains { $0.contains("subscribe 2") && $0.contains("without =~") }, "\(errors)")
        #expect(errors.contains { $0.contains("\"selector\" or \"series\"") }, "\(errors)")
        // boiler-3 was never on screen; boiler-1 only before it left, boiler-2 only after it came.
        #expect(!updates.contains { $0["boiler-3"] != nil }, "\(updates)")
        #expect(updates.compactMap { $0["boiler-1"] } == [71.0], "\(updates)")
        #expect(updates.compactMap { $0["boiler-2"] } == [62.0, 63.0], "\(updates)")
        let seqs = seen.compactMap { $0["seq"] as? Int }.filter { $0 > 0 }
        #expect(seqs == Array(1...(seqs.last ?? 0)), "\(seqs)")
    }
}
