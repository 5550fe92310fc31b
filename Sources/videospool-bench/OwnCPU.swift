import Foundation

/// User plus system CPU of every thread of this process so far, in microseconds (`getrusage`): for
/// the scenarios that measure work done in the benchmark's own process.
func ownCPUMicroseconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func microseconds(_ time: timeval) -> Double { Double(time.tv_sec) * 1e6 + Double(time.tv_usec) }
    return microseconds(usage.ru_utime) + microseconds(usage.ru_stime)
}
