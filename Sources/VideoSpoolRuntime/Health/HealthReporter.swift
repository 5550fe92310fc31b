public import Logging
public import ServiceLifecycle
public import VideoSpoolCore

/// Keeps systemd informed: `READY=1` once start-up is complete (store open, recovery done, spool
/// watched and listed; the files waiting there are read after it), a `STATUS=` line
/// kept current without flooding, `WATCHDOG=1` only while every loop is making progress (or
/// waiting on purpose for a store that says it is unavailable, see ``Heartbeats``), and
/// `STOPPING=1` when shutdown begins. Last in the service group, so it is shut down first.
public struct HealthReporter: Service {
    public struct Configuration: Sendable {
        /// From `WATCHDOG_USEC`; `nil` when systemd does not watch.
        public var watchdogTimeout: Duration?
        /// How often STATUS= may change.
        public var statusInterval: Duration

        public init(watchdogTimeout: Duration? = nil, statusInterval: Duration = .seconds(2)) {
            self.watchdogTimeout = watchdogTimeout
            self.statusInterval = statusInterval
        }
    }

    private let notifier: any ServiceManagerNotifier
    private let heartbeats: Heartbeats
    private let startup: StartupProgress
    private let status: @Sendable () -> String
    private let storeAvailability: @Sendable () -> StoreAvailability
    private let time: any TimeSource
    private let configuration: Configuration
    private let logger: Logger

    public init(
        notifier: any ServiceManagerNotifier,
        heartbeats: Heartbeats,
        startup: StartupProgress,
        time: any TimeSource,
        configuration: Configuration,
        logger: Logger,
        storeAvailability: @escaping @Sendable () -> StoreAvailability = { .available },
        status: @escaping @Sendable () -> String
    ) {
        self.notifier = notifier
        self.heartbeats = heartbeats
        self.startup = startup
        self.time = time
        self.configuration = configuration
        self.logger = logger
        self.status = status
        self.storeAvailability = storeAvailability
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            // Shutdown cancels the reporting loop; that is the normal way for it to end.
            try? await cancelWhenGracefulShutdown {
                for await _ in startup.events {}
                guard startup.isReady else { return }
                var lastStatus = status()
                notifier.notify([.ready, .status(lastStatus)])
                logger.notice("videospool ready", metadata: ["event": "daemon.ready"])
                let tick = configuration.watchdogTimeout.map { min($0 / 2, configuration.statusInterval) }
                    ?? configuration.statusInterval
                while !Task.isCancelled {
                    try await Task.sleep(for: tick)
                    var messages: [ServiceManagerMessage] = []
                    let current = status()
                    if current != lastStatus {
                        messages.append(.status(current))
                        lastStatus = current
                    }
                    if let timeout = configuration.watchdogTimeout {
                        let stale = heartbeats.stale(
                            now: time.now(),
                            maximumAge: timeout / 2,
                            storeUnavailable: !storeAvailability().isAvailable
                        )
                        if stale.isEmpty {
                            messages.append(.watchdog)
                        } else {
                            logger.warning(
                                "Not feeding the watchdog: loops are not making progress",
                                metadata: ["loops": "\(stale.map(\.rawValue).joined(separator: ","))"]
                            )
                        }
                    }
                    if !messages.isEmpty { notifier.notify(messages) }
                }
            }
        } onGracefulShutdown: {
            notifier.notify([.stopping, .status("stopping: finishing in-flight requests")])
        }
    }
}
