import Foundation
import Testing
import VigilTestSupport

#if canImport(Glibc)
import Glibc
#endif

@Suite("Metric store end to end: gateway, HTTP API, CLI, crashes", .serialized)
struct StoreEndToEndTests {
    @Test func readingsAreStoredAndAnsweredOverHTTPAndTheCLI() async throws {
        let broker = try await MosquittoBroker()
        defer { broker.stop() }
        let password = "correct horse \(UInt32.random(in: 0...UInt32.max))"
        let gateway = try await RunningGateway(mqttURL: broker.url,
                                               extraEnvironment: ["VIGIL_ADMIN_HASH": TestCredentials.passwordHash(password)])
        defer { gateway.process.stop() }
        try await gateway.process.waitForOutput(containing: "connected to MQTT broker")
        let simulator = try await vigil(["simulate", "--mqtt", broker.url, "--devices", "4", "--ticks", "3",
                                         "--rate", "10", "--qos", "1"])
        #expect(simulator.status == 0, "\(simulator.stderr)")

        // Flushed within the flush interval (1 s) of arriving.
        let deadline = ContinuousClock.now + .seconds(10)
        var flushed = 0.0
        while ContinuousClock.now < deadline {
            flushed = try await gateway.metric("vigil_store_samples_flushed_total") ?? 0
            if flushed >= 30 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(flushed == 30)
        #expect(try await gateway.get("/readyz").body.contains(#"{"name":"store","ok":true}"#))

        // The API wants a user; the password is checked with bcrypt.
        let noAuth = try await gateway.get("/api/v1/labels")
        #expect(noAuth.status == 401)
        #expect(noAuth.body.contains(#""status":"error""#))
        #expect(try await gateway.get("/api/v1/labels", user: "admin:wrong").status == 401)
        let labels = try await gateway.get("/api/v1/labels", user: "admin:\(password)")
        #expect(labels.status == 200)
        #expect(labels.body.contains(#""site""#) && labels.body.contains(#""__name__""#))
        let names = try await gateway.get("/api/v1/label/__name__/values", user: "admin:\(password)")
        #expect(names.body.contains(#""temperature""#))

        let now = Int(Date().timeIntervalSince1970)
        let range = try await gateway.get(
            "/api/v1/query_range?query=temperature&start=\(now - 600)&end=\(now + 5)&step=5s&agg=count&by=",
            user: "admin:\(password)")
        #expect(range.status == 200)
        let object = try JSONSerialization.jsonObject(with: Data(range.body.utf8)) as? [String: Any]
        let data = object?["data"] as? [String: Any]
        let result = data?["result"] as? [[String: Any]]
        #expect(data?["resultType"] as? String == "matrix")
        let total = (result?.first?["values"] as? [[Any]])?.reduce(0.0) { $0 + (Double($1[1] as? String ?? "") ?? 0) }
        #expect(total == 12, "\(range.body)")  // 4 devices report temperature, 3 ticks each

        // POST with a form body, as Grafana sends it.
        let post = try await gateway.get("/api/v1/series", user: "admin:\(password)",
                                         arguments: ["--data-urlencode", "match[]=temperature{site=~\".+\"}"])
        #expect(post.status == 200 && post.body.contains(#""__name__":"temperature""#), "\(post.body)")
        let bad = try await gateway.get("/api/v1/query_range?query=temperature%7B", user: "admin:\(password)")
        #expect(bad.status == 400 && bad.body.contains(#""errorType":"bad_data""#))

        // The CLI reads the live store read-only; import is refused while the gateway writes.
        let dataDir = gateway.directory.path("data")
        let query = try await vigil(["query", "--data-dir", dataDir, "temperature", "--start=-10m", "--format", "csv"])
        #expect(query.status == 0, "\(query.stderr)")
        #expect(query.stdout.split(separator: "\n").count == 13)  // header + 12 samples
        let busy = try await vigil(["import", "--data-dir", dataDir, "--format", "csv", "-"], stdin: "")
        #expect(busy.status == 1)
        #expect(busy.stderr.contains("is in use by another vigil process"))

        gateway.process.signal(SIGTERM)
        #expect(await gateway.process.waitForExit(timeout: .seconds(10)) == 0, "\(gateway.process.stderr.suffix(3000))")
        #expect(gateway.process.stderr.contains("store closed"))
        let stats = try await vigil(["store", "stats", "--data-dir", dataDir, "--json"])
        #expect(stats.status == 0, "\(stats.stderr)")
        #expect(stats.stdout.contains(#""samples":30"#), "\(stats.stdout)")
    }

    @Test func exportAfterImportIsBitExact() async throws {
        let directory = try TemporaryDirectory()
        var lines = ["series,timestamp_ms,value"]
        var random = SystemRandomNumberGenerator()
        let specials: [Double] = [0, -0.0, .leastNonzeroMagnitude, -.leastNormalMagnitude, .greatestFiniteMagnitude,
                                  1e-300, 21.3, 0.1 + 0.2, -1234.5678, 1 / 3]
        for i in 0..<2000 {
            let value = i < specials.count ? specials[i] : Double(bitPattern: random.next() & 0x7FEF_FFFF_FFFF_FFFF)
            let series = i % 2 == 0 ? #""odd{label=""a, \""quoted\"" b""}""# : "plain"
            lines.append("\(series),\(1_700_000_000_000 + Int64(i) * 997),\(value)")
        }
        let input = try directory.write("in.csv", lines.joined(separator: "\n") + "\n")
        let imported = try await vigil(["import", "--data-dir", directory.path("data"), "--max-age", "36500d", "--format", "csv", input])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stderr.contains("imported 2000 samples into 2 series"))
        // Every complete day it wrote is rolled up, and no free pages are left behind (issue 15).
        let stats = try await vigil(["store", "stats", "--data-dir", directory.path("data"), "--json"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as? [String: Any])
        #expect((json["rollup_blobs"] as? Int ?? 0) >= 2 * 2, "\(stats.stdout)")  // 2 series × 1 day × (1m, 1h)
        #expect(json["free_bytes"] as? Int == 0, "\(stats.stdout)")
        let exported = try await vigil(["export", "--data-dir", directory.path("data"), #"{__name__=~"odd|plain"}"#])
        #expect(exported.status == 0, "\(exported.stderr)")
        func parse(_ text: String) -> Set<String> {
            Set(text.split(separator: "\n").dropFirst().map { line in
                let parts = line.split(separator: ",").suffix(2)
                let value = Double(parts.last!)!
                return line.dropLast(parts.last!.count) + String(value.bitPattern, radix: 16)
            })
        }
        #expect(parse(exported.stdout) == parse(lines.joined(separator: "\n")))
    }

    @Test func badImportLinesAreReportedByNumberAndTheRestIsImported() async throws {
        let directory = try TemporaryDirectory()
        let influx = """
            # comment
            weather,site=a temperature=21.5,humidity=40i 1700000000000000000
            weather,site=a temperature=oops 1700000000000000000
            weather,site=b value=3,text="ignored" 1700000001000000000
            weather site=a
            weather,site=a temperature=22.5 1700000000000000000
            """
        let result = try await vigil(["import", "--data-dir", directory.path("data"), "--max-age", "36500d", "--format", "influx", "-"], stdin: influx)
        #expect(result.status == 1)
        #expect(result.stderr.contains("stdin:3: field 'temperature': 'oops' is not a number or boolean"))
        #expect(result.stderr.contains("stdin:5: "))
        #expect(result.stderr.contains("imported 3 samples into 3 series from 6 lines"), "\(result.stderr)")
        #expect(result.stderr.contains("2 lines rejected; 1 duplicate times (the last line wins)"), "\(result.stderr)")
        let query = try await vigil(["query", "--data-dir", directory.path("data"), #"{__name__=~"weather.*"}"#,
                                     "--start", "1699999999", "--end", "1700000002", "--format", "csv"])
        // Line 6 rewrote line 2's temperature: the last line wins.
        #expect(query.stdout.contains(#"weather_temperature{site=""a""}",1700000000000,22.5"#), "\(query.stdout)")
        #expect(query.stdout.contains(",1700000001000,3.0"))
    }

    /// kill -9 an import at random moments, 20 times; every reopen works and keeps everything the
    /// import had reported as committed, as an unbroken prefix of what it was sent.
    @Test func killedImportsLoseAtMostTheUncommittedTail() async throws {
        signal(SIGPIPE, SIG_IGN)
        let directory = try TemporaryDirectory()
        let dataDir = directory.path("data")
        var runsThatStored = 0
        for run in 0..<20 {
            let fifo = directory.path("feed-\(run)")
            #expect(mkfifo(fifo, 0o600) == 0)
            let importer = try ManagedProcess(try TestEnvironment.vigilBinary(),
                                              ["import", "--data-dir", dataDir, "--max-age", "36500d", "--format", "csv", "--commit-interval", "50ms", fifo],
                                              directory: directory, name: "import-\(run)")
            let writer = open(fifo, O_WRONLY)
            #expect(writer >= 0)
            let killAfter = Duration.milliseconds(Int.random(in: 150...600))
            let started = ContinuousClock.now
            var sent = 0
            while ContinuousClock.now - started < killAfter {
                var chunk = ""
                for _ in 0..<500 {
                    chunk += "crash{run=\"\(run)\"},\(1_700_000_000_000 + sent * 1000),\(sent)\n"
                    sent += 1
                }
                _ = chunk.withCString { write(writer, $0, strlen($0)) }
                try await Task.sleep(for: .milliseconds(5))
            }
            importer.signal(SIGKILL)
            _ = await importer.waitForExit(timeout: .seconds(5))
            close(writer)
            let committed = importer.stderr.split(separator: "\n").compactMap { line -> Int? in
                guard let range = line.range(of: " lines, ") else { return nil }
                return Int(line[range.upperBound...].prefix { $0.isNumber })
            }.max() ?? 0

            let exported = try await vigil(["export", "--data-dir", dataDir, "crash{run=\"\(run)\"}"])
            #expect(exported.status == 0, "run \(run): \(exported.stderr)")
            let values = exported.stdout.split(separator: "\n").dropFirst().map { Int(Double($0.split(separator: ",").last!)!) }
            #expect(values == Array(0..<values.count), "run \(run): not a prefix")
            #expect(values.count >= committed, "run \(run): \(values.count) stored, \(committed) reported committed")
            #expect(values.count <= sent)
            if !values.isEmpty { runsThatStored += 1 }
        }
        // A kill before the first commit (a slow box may not have opened the store after 150 ms)
        // stores nothing, and creates no series: that is allowed, as long as the count agrees.
        #expect(runsThatStored >= 10, "only \(runsThatStored) of 20 runs stored anything")
        let stats = try await vigil(["store", "stats", "--data-dir", dataDir, "--json"])
        #expect(stats.status == 0 && stats.stdout.contains(#""series":\#(runsThatStored)"#), "\(stats.stdout) \(stats.stderr)")
    }
}

extension RunningGateway {
    func get(_ path: String, user: String, arguments: [String] = []) async throws -> Curl.Response {
        try await Curl.get(baseURL + path, caCertificate: caCertificate, arguments: ["-u", user] + arguments)
    }
}
