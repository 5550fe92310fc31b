import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import VideoSpoolCore
import VideoSpoolHTTP
import VideoSpoolSimulator

/// Large video downloads on loopback: `videospool simulate` (a child process) serves N videos of
/// the given size at once and this process stores them through ``HTTPVideoDownloader``, exactly as
/// the daemon would (stream, hash, fsync, rename). Measures the aggregate throughput and this
/// process's resident memory above its idle level while they run.
///
/// The downloader alone, in the benchmark process (``DaemonDownloadScenario`` measures the daemon
/// storing videos); the simulator runs in its own process so its memory and CPU are not counted as
/// the downloader's.
struct DownloadScenario {
    var downloads = 32
    var bytes: Int64 = 200 * 1024 * 1024
    /// Where the videos are stored (created, and removed afterwards).
    var directory = FileManager.default.temporaryDirectory.path + "/videospool-bench-download-\(getpid())"
    /// Names the storage in the results ("disk", "tmpfs").
    var storage = "disk"

    /// The same downloads into tmpfs (`/dev/shm`), which takes the disk's write speed out of the
    /// figure and leaves the network, hashing and the downloader; `nil` without room for them there.
    func inMemory() -> DownloadScenario? {
        var stats = statvfs()
        guard statvfs("/dev/shm", &stats) == 0 else { return nil }
        let free = Double(stats.f_bavail) * Double(stats.f_frsize)
        guard free > Double(bytes) * Double(downloads) * 1.2 else { return nil }
        var copy = self
        copy.directory = "/dev/shm/videospool-bench-download-\(getpid())"
        copy.storage = "tmpfs"
        return copy
    }

    func run(binary: String) async throws -> ScenarioResult {
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let simulator = try SimulatorProcess(binary: binary, arguments: ["--fault", "video:size=\(bytes)"])
        defer { simulator.stop() }
        let port = try await simulator.port()

        let logger = Logger(label: "bench.download", factory: { _ in SwiftLogNoOpLogHandler() })
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let links = try await Self.completedLinks(count: downloads, port: port, client: client, logger: logger)
        try await client.shutdown()

        var clientConfiguration = HTTPVideoDownloader.defaultClientConfiguration
        clientConfiguration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = downloads
        let downloader = HTTPVideoDownloader(
            configuration: HTTPVideoDownloader.Configuration(
                maximumBytes: bytes,
                timeout: .seconds(900),
                stallTimeout: .seconds(60),
                allowHTTP: true,
                addressPolicy: AddressPolicy(allowedNetworks: [CIDR("127.0.0.0/8")!])
            ),
            eventLoopGroup: HTTPClient.defaultEventLoopGroup,
            clientConfiguration: clientConfiguration,
            logger: logger
        )
        // Idle: clients made, nothing transferring. Then sample while the downloads run.
        try await Task.sleep(for: .milliseconds(500))
        let idle = try Self.residentMiB()
        let sampler = RSSSampler()
        let sampling = Task { await sampler.run() }
        let cpuBefore = try simulator.cpuSeconds()
        let ownCPUBefore = ownCPUMicroseconds()
        let start = ContinuousClock.now
        let stored = try await withThrowingTaskGroup(of: StoredVideo.self) { group in
            for (index, link) in links.enumerated() {
                group.addTask {
                    try await downloader.download(
                        VideoDownloadRequest(url: link.url, jobID: JobID(trusted: "bench-\(index)"), directory: directory)
                    )
                }
            }
            return try await group.reduce(into: [StoredVideo]()) { $0.append($1) }
        }
        let seconds = (ContinuousClock.now - start).milliseconds / 1000
        sampling.cancel()
        let peak = max(await sampling.value, try Self.residentMiB())
        let simulatorCPU = try simulator.cpuSeconds() - cpuBefore
        let downloaderCPU = (ownCPUMicroseconds() - ownCPUBefore) / 1e6
        try await downloader.shutdown()

        guard stored.allSatisfy({ $0.bytes == bytes }) else {
            throw BenchError("a download stored the wrong number of bytes: \(stored.map(\.bytes))")
        }
        // One file checked against the simulator's own bytes (after the timing).
        let first = links[0]
        let expected = Self.sha256(of: SimulatedVideo(generationID: first.id, size: bytes))
        guard stored.first(where: { $0.path.hasSuffix("/bench-0.mp4") })?.sha256 == expected else {
            throw BenchError("bench-0.mp4's SHA-256 does not match the simulator's video")
        }

        let total = Double(bytes) * Double(downloads)
        var result = ScenarioResult(
            name: "download (\(storage))",
            summary: "\(downloads) videos of \(bytes / 1_048_576) MiB at once from the simulator on loopback, "
                + "hashed and stored with fsync in \(storage == "tmpfs" ? "tmpfs (/dev/shm)" : directory)"
        )
        result.add("aggregate throughput", total / 1e6 / seconds, "MB/s", .atLeast(500))
        result.add("wall time", seconds, "s")
        result.add("RSS growth over idle", peak - idle, "MiB", .atMost(32))
        result.add("RSS idle", idle, "MiB")
        result.add("RSS peak", peak, "MiB")
        result.add("downloader CPU", downloaderCPU, "s")
        result.add("downloader CPU per GB", downloaderCPU / (total / 1e9), "s")
        result.add("simulator CPU", simulatorCPU, "s")
        result.notes.append("the downloader runs in the benchmark process, the simulator in its own")
        return result
    }

    /// Submits `count` generations and polls each until it has a video link.
    private static func completedLinks(count: Int, port: Int, client: HTTPClient, logger: Logger) async throws
        -> [(id: String, url: String)]
    {
        let api = HTTPGenerationAPI(
            client: client,
            configuration: .init(baseURL: "http://127.0.0.1:\(port)", apiKey: BenchWorkspace.apiKey),
            logger: logger
        )
        var links: [(id: String, url: String)] = []
        for index in 0..<count {
            let body = Array(#"{"model":"bytedance/dreamina-seedance-2-0-mini","prompt":"download \#(index)","duration":5}"#.utf8)
            let job = JobID(trusted: "bench-\(index)")
            guard case .response(let accepted) = await api.submit(body: body, jobID: job),
                let id = GenerationStatusResponse(body: accepted.body)?.id
            else { throw BenchError("the simulator did not accept a submission") }
            let deadline = ContinuousClock.now + .seconds(30)
            while true {
                if case .response(let polled) = await api.status(of: id, jobID: job),
                    let url = GenerationStatusResponse(body: polled.body)?.videoURL
                {
                    links.append((id, url))
                    break
                }
                guard ContinuousClock.now < deadline else { throw BenchError("generation \(id) did not complete") }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        return links
    }

    private static func sha256(of video: SimulatedVideo) -> String {
        var hasher = SHA256()
        for chunk in video.chunks(in: 0..<video.count) {
            chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// User plus system CPU time of another process, in seconds (this one's: ``ownCPUMicroseconds()``).
    static func cpuSeconds(pid: String) throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
        guard let close = stat.lastIndex(of: ")") else { throw BenchError("unreadable /proc/\(pid)/stat") }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else {
            throw BenchError("unreadable /proc/\(pid)/stat")
        }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// This process's resident memory in MiB.
    static func residentMiB() throws -> Double {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        guard let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "") else {
            throw BenchError("unreadable /proc/self/status")
        }
        return kilobytes / 1024
    }
}

/// Samples this process's resident memory every 20 ms; returns the highest value seen.
private struct RSSSampler {
    func run() async -> Double {
        var peak = 0.0
        while !Task.isCancelled {
            peak = max(peak, (try? DownloadScenario.residentMiB()) ?? 0)
            try? await Task.sleep(for: .milliseconds(20))
        }
        return peak
    }
}
