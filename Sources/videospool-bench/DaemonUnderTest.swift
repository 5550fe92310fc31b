import Foundation

/// The release daemon as a child process, measured from /proc (so the benchmark's own work, the
/// simulator included, is never counted as the daemon's).
/// `@unchecked Sendable`: after `init` only `Process`'s thread-safe accessors are used.
final class DaemonUnderTest: @unchecked Sendable {
    let process = Process()
    let startedAt: ContinuousClock.Instant

    init(binary: String, config: String, logPath: String, environment: [String: String]) throws {
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["run", "--config", config]
        var merged = ProcessInfo.processInfo.environment
        merged.removeValue(forKey: "NOTIFY_SOCKET")
        merged.removeValue(forKey: "WATCHDOG_USEC")
        for (key, value) in environment { merged[key] = value }
        process.environment = merged
        guard FileManager.default.createFile(atPath: logPath, contents: nil) else {
            throw BenchError("cannot create the daemon log \(logPath)")
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = log
        process.standardError = log
        startedAt = .now
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    /// User plus system CPU time so far, in seconds.
    func cpuSeconds() throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
        guard let close = stat.lastIndex(of: ")") else { throw BenchError("unreadable /proc/\(pid)/stat") }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else {
            throw BenchError("unreadable /proc/\(pid)/stat")
        }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Resident memory now and at its peak (VmHWM), in MiB.
    func memoryMiB() throws -> (current: Double, peak: Double) {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        func field(_ name: String) -> Double {
            let line = status.split(separator: "\n").first { $0.hasPrefix(name + ":") } ?? ""
            return (Double(line.split(separator: " ").dropFirst().first ?? "") ?? 0) / 1024
        }
        return (field("VmRSS"), field("VmHWM"))
    }

    /// Context switches per thread id: each is a wake-up (or a preemption) of the daemon.
    func contextSwitches() -> [String: Int] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        var switches: [String: Int] = [:]
        for task in tasks {
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/status", encoding: .utf8) else { continue }
            for line in status.split(separator: "\n") where line.contains("ctxt_switches:") {
                switches[task, default: 0] += Int(line.split(separator: "\t").last?.trimmingCharacters(in: .whitespaces) ?? "") ?? 0
            }
        }
        return switches
    }

    /// Context switches since `earlier`, counted over the threads alive now (a thread that ended
    /// in between takes its count with it, so this is a lower bound).
    func contextSwitches(since earlier: [String: Int]) -> Int {
        contextSwitches().reduce(0) { total, entry in total + entry.value - (earlier[entry.key] ?? 0) }
    }

    func threadCount() -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []).count
    }

    /// SIGTERM, then waits for the exit; returns the exit status.
    @discardableResult
    func stop() async -> Int32 {
        guard process.isRunning else { return process.terminationStatus }
        kill(pid, SIGTERM)
        while process.isRunning {
            // Polling the child's state is the benchmark's own business; 20 ms keeps it cheap.
            try? await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
