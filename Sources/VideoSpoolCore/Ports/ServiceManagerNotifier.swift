/// Tells the service manager (systemd) how the daemon is doing: `sd_notify(3)`.
public protocol ServiceManagerNotifier: Sendable {
    func notify(_ messages: [ServiceManagerMessage])
}

extension ServiceManagerNotifier {
    public func notify(_ message: ServiceManagerMessage) {
        notify([message])
    }
}

/// One assignment of the notify protocol. Several are sent in one datagram.
public enum ServiceManagerMessage: Sendable, Hashable {
    /// Start-up or a reload finished.
    case ready
    /// One line for `systemctl status`.
    case status(String)
    /// Keep-alive for `WatchdogSec=`.
    case watchdog
    /// A reload began; `monotonicMicroseconds` is `CLOCK_MONOTONIC` now (required by
    /// `Type=notify-reload` since systemd 253).
    case reloading(monotonicMicroseconds: UInt64)
    /// Shutdown began.
    case stopping
    /// Asks for more time to start (or stop), counted from now.
    case extendTimeout(Duration)

    /// The `KEY=VALUE` line for this assignment.
    public var assignment: String {
        switch self {
        case .ready: "READY=1"
        case .status(let text): "STATUS=" + Self.singleLine(text)
        case .watchdog: "WATCHDOG=1"
        case .reloading(let microseconds): "RELOADING=1\nMONOTONIC_USEC=\(microseconds)"
        case .stopping: "STOPPING=1"
        case .extendTimeout(let duration): "EXTEND_TIMEOUT_USEC=\(max(duration.wholeMilliseconds, 0) * 1000)"
        }
    }

    /// The datagram for several assignments.
    public static func datagram(_ messages: [ServiceManagerMessage]) -> String {
        messages.map(\.assignment).joined(separator: "\n")
    }

    /// STATUS= is one line: newlines would start new assignments.
    private static func singleLine(_ text: String) -> String {
        String(text.map { $0.isNewline ? " " : $0 }.prefix(500))
    }
}
