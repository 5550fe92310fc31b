import CSystemd
import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import Synchronization
public import VideoSpoolCore

/// Sends notify-protocol datagrams to systemd with `sd_notify`. A no-op when the daemon was not
/// started by systemd (no `$NOTIFY_SOCKET`).
///
/// `sd_notify` blocks while the socket's queue is full (ten datagrams by default): a service
/// manager that does not read, or reads late, would otherwise hold the caller's thread, and with
/// it a thread of the two-thread concurrency pool on a two-core host; two such calls froze the
/// whole daemon. Datagrams are therefore sent, in order, from a serial queue of their own; while
/// the socket stays blocked, more than ``backlogLimit`` waiting datagrams are dropped (each is a
/// state update that a later one supersedes; the watchdog then starves, as it should).
public final class SystemdNotifier: ServiceManagerNotifier, Sendable {
    public static let backlogLimit = 64

    private let queue = DispatchQueue(label: "videospool.sd-notify")
    private let backlog = Atomic<Int>(0)
    private let send: @Sendable (String) -> Void

    public convenience init() {
        self.init { datagram in _ = datagram.withCString { sd_notify(0, $0) } }
    }

    /// `send` delivers one datagram (tests pass one that blocks).
    package init(send: @escaping @Sendable (String) -> Void) {
        self.send = send
    }

    public func notify(_ messages: [ServiceManagerMessage]) {
        guard !messages.isEmpty else { return }
        guard backlog.add(1, ordering: .relaxed).newValue <= Self.backlogLimit else {
            backlog.subtract(1, ordering: .relaxed)
            return
        }
        let datagram = ServiceManagerMessage.datagram(messages)
        queue.async {
            self.send(datagram)
            self.backlog.subtract(1, ordering: .relaxed)
        }
    }

    /// Waits up to `timeout` for the datagrams already handed over to be sent (before the process
    /// exits, so that `STOPPING=1` is not lost). Whether they all were.
    @discardableResult
    public func drain(timeout: Duration) -> Bool {
        let done = DispatchSemaphore(value: 0)
        queue.async { done.signal() }
        return done.wait(timeout: .now() + .milliseconds(Int(timeout.wholeMilliseconds))) == .success
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
