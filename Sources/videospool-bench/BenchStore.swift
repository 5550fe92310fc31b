import Foundation
import VideoSpoolTesting

/// The job store a scenario's daemon runs on: SQLite in its state directory, or PostgreSQL on this
/// machine (a throwaway cluster with the server's durable defaults, reached over its unix socket).
enum BenchStore: Sendable {
    case sqlite
    case postgresql(PostgresTestServer)

    var name: String {
        switch self {
        case .sqlite: "sqlite"
        case .postgresql: "postgresql"
        }
    }

    /// The `state:` keys after `directory` (a fresh database each time on PostgreSQL).
    func stateKeys() throws -> String {
        switch self {
        case .sqlite:
            return ""
        case .postgresql(let server):
            let database = try server.createDatabase()
            return """
                backend: postgresql
                postgresql:
                  url: "host=\(server.directory) port=\(server.port) user=\(PostgresTestServer.superuser) dbname=\(database)"
                """
        }
    }

    /// CPU seconds the database server has used so far, all its processes together (connections
    /// that ended included: the postmaster collects their time); 0 for SQLite, which works inside
    /// the daemon's own process.
    func serverCPUSeconds() throws -> Double {
        guard case .postgresql(let server) = self else { return 0 }
        let pidFile = try String(contentsOfFile: server.directory + "/data/postmaster.pid", encoding: .utf8)
        guard let postmaster = pidFile.split(separator: "\n").first.flatMap({ Int32($0) }) else {
            throw BenchError("unreadable postmaster.pid in \(server.directory)/data")
        }
        var ticks = 0.0
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), let fields = Self.statFields(pid) else { continue }
            // After the command name: ppid is the 2nd field, utime to cstime the 12th to 15th.
            if pid == postmaster {
                ticks += fields[11...14].compactMap { Double($0) }.reduce(0, +)
            } else if Int32(fields[1]) == postmaster {
                ticks += fields[11...12].compactMap { Double($0) }.reduce(0, +)
            }
        }
        return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Transactions the database server has committed so far, all databases together (PostgreSQL's
    /// statistics, which lag by up to a second); 0 for SQLite.
    func committedTransactions() throws -> Double {
        guard case .postgresql(let server) = self else { return 0 }
        return Double(try server.psql("SELECT sum(xact_commit) FROM pg_stat_database")) ?? 0
    }

    /// The fields of /proc/<pid>/stat after the parenthesised command name.
    private static func statFields(_ pid: Int32) -> [Substring]? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 14 ? fields : nil
    }
}
