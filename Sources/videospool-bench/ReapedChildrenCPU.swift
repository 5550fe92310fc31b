import Foundation

/// CPU time (user + system) of every child process of the benchmark that has ended and been
/// waited for, with their own waited-for children: the kernel adds a child's whole total, every
/// thread and its exit included, when it is reaped.
enum ReapedChildrenCPU {
    static func seconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_CHILDREN.rawValue, &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}
