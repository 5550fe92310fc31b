import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import VideoSpoolCore
import VideoSpoolHTTP

/// What one HTTP exchange costs the client's process, with nothing else in it: the floor under the
/// daemon's CPU per job, which makes one POST, a few polls and a webhook per job.
///
/// `videospool simulate` runs in its own process (its CPU is not counted); this process polls one
/// generation over kept-alive loopback connections, first with AsyncHTTPClient alone, then through
/// the daemon's own adapter (``HTTPGenerationAPI``: headers, the exchange recorder, secret
/// scrubbing), and reports its own CPU (user plus system, from `getrusage`) per exchange.
struct HTTPFloorScenario {
    var exchanges = 4_000
    /// As the daemon's default `api.max_concurrent_requests`.
    var concurrency = 8

    func run(binary: String) async throws -> ScenarioResult {
        let simulator = try SimulatorProcess(binary: binary, arguments: [])
        defer { simulator.stop() }
        let baseURL = "http://127.0.0.1:\(try await simulator.port())"
        let logger = Logger(label: "bench.http-floor", factory: { _ in SwiftLogNoOpLogHandler() })

        // The daemon's client configuration (Daemon.swift), without the redirect and timeout details
        // that cost nothing per exchange.
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.connectionPool = .init(idleTimeout: .seconds(20), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let api = HTTPGenerationAPI(
            client: client,
            configuration: .init(baseURL: baseURL, apiKey: BenchWorkspace.apiKey),
            logger: logger
        )
        let job = JobID(trusted: "bench-floor")
        let body = Array(#"{"model":"bytedance/dreamina-seedance-2-0-mini","prompt":"floor","duration":5}"#.utf8)
        guard case .response(let accepted) = await api.submit(body: body, jobID: job),
            let generationID = GenerationStatusResponse(body: accepted.body)?.id
        else { throw BenchError("the simulator did not accept a submission") }
        let url = baseURL + "/v2/video/generations?generation_id=" + generationID

        let bare: @Sendable () async throws -> Void = {
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "Authorization", value: "Bearer \(BenchWorkspace.apiKey)")
            let response = try await client.execute(request, timeout: .seconds(30))
            let bytes = try await response.body.collect(upTo: 1 << 20)
            guard response.status == .ok, bytes.readableBytes > 0 else {
                throw BenchError("a poll answered \(response.status)")
            }
        }
        let adapter: @Sendable () async throws -> Void = {
            guard case .response(let response) = await api.status(of: generationID, jobID: job),
                response.statusCode == 200
            else { throw BenchError("a poll through HTTPGenerationAPI failed") }
        }

        var result = ScenarioResult(
            name: "http-floor",
            summary: "\(exchanges) polls of one generation from `videospool simulate` (its own process) over "
                + "kept-alive loopback connections; this process's CPU per exchange, nothing else running in it"
        )
        do {
            _ = try await measure(exchanges / 10, concurrency: concurrency, bare)  // warm-up: connections, caches
            let bareParallel = try await measure(exchanges, concurrency: concurrency, bare)
            let adapterParallel = try await measure(exchanges, concurrency: concurrency, adapter)
            let bareSerial = try await measure(exchanges / 4, concurrency: 1, bare)
            let adapterSerial = try await measure(exchanges / 4, concurrency: 1, adapter)
            result.add("AsyncHTTPClient alone, \(concurrency) at once: CPU per exchange", bareParallel.cpuPerExchange, "µs")
            result.add("HTTPGenerationAPI, \(concurrency) at once: CPU per exchange", adapterParallel.cpuPerExchange, "µs")
            result.add("AsyncHTTPClient alone, one at a time: CPU per exchange", bareSerial.cpuPerExchange, "µs")
            result.add("HTTPGenerationAPI, one at a time: CPU per exchange", adapterSerial.cpuPerExchange, "µs")
            result.add("exchanges/s, AsyncHTTPClient alone, \(concurrency) at once", bareParallel.perSecond, "/s")
            result.notes.append(
                "moderate makes about 5.5 exchanges per job (a POST, 3.5 polls, a webhook): "
                    + String(format: "%.2f", 5.5 * adapterSerial.cpuPerExchange / 1000)
                    + " ms of CPU per job at the adapter's one-at-a-time cost, before any store, file or scheduling work"
            )
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
        return result
    }

    private struct Measurement {
        var cpuPerExchange: Double
        var perSecond: Double
    }

    /// Runs `count` exchanges, `concurrency` at a time, and reads this process's CPU around them.
    private func measure(
        _ count: Int,
        concurrency: Int,
        _ exchange: @escaping @Sendable () async throws -> Void
    ) async throws -> Measurement {
        let cpuBefore = ownCPUMicroseconds()
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<concurrency {
                let share = count / concurrency + (lane < count % concurrency ? 1 : 0)
                group.addTask { for _ in 0..<share { try await exchange() } }
            }
            try await group.waitForAll()
        }
        let seconds = (ContinuousClock.now - start).milliseconds / 1000
        let cpu = ownCPUMicroseconds() - cpuBefore
        return Measurement(cpuPerExchange: cpu / Double(count), perSecond: Double(count) / seconds)
    }
}
