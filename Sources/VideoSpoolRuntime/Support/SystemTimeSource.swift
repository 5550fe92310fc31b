#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import VideoSpoolCore

/// The real wall clock. Sleeps are re-checked against the clock, so a clock step only delays or
/// advances a wake-up, it never loses one.
public struct SystemTimeSource: TimeSource {
    public init() {}

    public func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(millisecondsSinceEpoch: Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000)
    }

    public func sleep(until deadline: Timestamp) async throws {
        while true {
            let remaining = deadline - now()
            if remaining <= .zero { return }
            try await Task.sleep(for: min(remaining, .seconds(60)), tolerance: .milliseconds(5))
        }
    }
}
