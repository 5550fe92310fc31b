import Foundation

/// The release daemon as a child process, measured from /proc (so the benchmark's own work, the
/// simulator included, is never counted as the daemon's).
/// `@unchecked Sendable`: after `init` only `Process`'s thread-safe accessors are used.
final class DaemonUnderTest: @unchecked Sendable {
    let process = Process()
    let startedAt: ContinuousClock.Instant
    /// The benchmark's reaped children's CPU just before the exec (see ``stopMeasuringLifetime()``).
    private let reapedChildrenCPUBefore: Double

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
        reapedChildrenCPUBefore = ReapedChildrenCPU.seconds()
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

    /// User plus system CPU time so far, in seconds, finer than ``cpuSeconds()``'s 10 ms ticks: the
    /// on-CPU nanoseconds of the threads alive now (`/proc/<pid>/task/*/schedstat`). A thread that
    /// has ended is missing there, and /proc/<pid>/stat truncates to ticks, so both are lower bounds;
    /// this is the larger.
    func preciseCPUSeconds() throws -> Double {
        let ticks = try cpuSeconds()
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        var nanoseconds: UInt64 = 0
        for task in tasks {
            guard let schedstat = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/schedstat", encoding: .utf8),
                let running = schedstat.split(separator: " ").first.flatMap({ UInt64($0) })
            else { continue }
            nanoseconds += running
        }
        return max(ticks, Double(nanoseconds) / 1e9)
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

/// What the whole daemon process cost, from exec to exit.
struct DaemonLifetime {
    let status: Int32
    /// User + system CPU of every thread, exec to exit, start-up and shutdown included.
    let cpuSeconds: Double
    /// The last /proc/<pid>/stat reading before the process was gone: a cross-check of
    /// ``cpuSeconds`` (at most a few milliseconds below it, in 10 ms ticks).
    let lastReadCPUSeconds: Double
    /// VmHWM, last read before the process was gone.
    let peakRSSMiB: Double
    /// SIGTERM → reaped.
    let stopSeconds: Double
}

extension DaemonUnderTest {
    /// SIGTERM, then the whole process's cost once it has exited.
    ///
    /// /proc/<pid> disappears when the child is reaped, and Foundation's `Process` reaps it on a
    /// thread of its own (so `wait4`'s rusage is not ours to take, and a last read of /proc races the
    /// reap). What is exact: the kernel adds a reaped child's whole CPU to its parent's
    /// RUSAGE_CHILDREN, so that total's growth across the daemon's life is the daemon's CPU from exec
    /// to exit, provided no other child of the benchmark ends meanwhile. The scenarios that use this
    /// run alone (no `CommandRun`, no database server of the benchmark's at the same time); the last
    /// /proc reading is kept beside it as a check.
    func stopMeasuringLifetime() async -> DaemonLifetime {
        var lastCPU = (try? cpuSeconds()) ?? 0
        var peakRSS = (try? memoryMiB().peak) ?? 0
        let signalled = ContinuousClock.now
        kill(pid, SIGTERM)
        while process.isRunning {
            if let cpu = try? cpuSeconds() { lastCPU = max(lastCPU, cpu) }
            if let memory = try? memoryMiB(), memory.peak > 0 { peakRSS = max(peakRSS, memory.peak) }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return DaemonLifetime(
            status: process.terminationStatus,
            cpuSeconds: ReapedChildrenCPU.seconds() - reapedChildrenCPUBefore,
            lastReadCPUSeconds: lastCPU,
            peakRSSMiB: peakRSS,
            stopSeconds: (ContinuousClock.now - signalled).milliseconds / 1000
        )
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
