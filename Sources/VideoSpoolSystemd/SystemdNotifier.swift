import CSystemd
#if canImport(Glibc)
import Glibc
#endif
public import VideoSpoolCore

/// Sends notify-protocol datagrams to systemd with `sd_notify`. A no-op when the daemon was not
/// started by systemd (no `$NOTIFY_SOCKET`).
public struct SystemdNotifier: ServiceManagerNotifier {
    public init() {}

    public func notify(_ messages: [ServiceManagerMessage]) {
        guard !messages.isEmpty else { return }
        _ = ServiceManagerMessage.datagram(messages).withCString { sd_notify(0, $0) }
    }

    /// `WatchdogSec=` as systemd passed it (`$WATCHDOG_USEC`, for this process), or `nil`.
    public static func watchdogTimeout() -> Duration? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0 else { return nil }
        return .microseconds(Int64(microseconds))
    }

    /// `CLOCK_MONOTONIC` in microseconds, for `MONOTONIC_USEC=` with `RELOADING=1`.
    public static func monotonicMicroseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000 + UInt64(spec.tv_nsec) / 1000
    }
}
