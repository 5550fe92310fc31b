import Foundation

/// This process's CPU time, resident memory and open files, read from `/proc/self` at scrape time
/// (Linux only; on other systems every value is `nil`).
struct ProcessStatistics: Sendable, Hashable {
    var cpuSeconds: Double?
    var residentBytes: Double?
    var openFiles: Double?

    static func read(procRoot: String = "/proc/self") -> ProcessStatistics {
        var statistics = ProcessStatistics()
        // /proc/self/stat: the command name may hold spaces and parentheses, so fields are counted
        // from the last ')'; utime and stime are fields 14 and 15, in clock ticks.
        if let stat = try? String(contentsOfFile: procRoot + "/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        {
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            // fields[0] is field 3 (state).
            if fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) {
                statistics.cpuSeconds = (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
            }
        }
        // /proc/self/statm: size resident shared … in pages.
        if let statm = try? String(contentsOfFile: procRoot + "/statm", encoding: .utf8) {
            let fields = statm.split(separator: " ")
            if fields.count > 1, let pages = Double(fields[1]) {
                statistics.residentBytes = pages * Double(sysconf(Int32(_SC_PAGESIZE)))
            }
        }
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: procRoot + "/fd") {
            statistics.openFiles = Double(entries.count)
        }
        return statistics
    }
}
