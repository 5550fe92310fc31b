public import Logging
public import ServiceLifecycle
public import VideoSpoolCore

/// Deletes finished jobs older than `state.retention_days`, hourly, in small batches: cheap, and
/// off the pipeline's hot path. The first round waits a minute so start-up is not slowed.
public struct RetentionService: Service {
    private let control: JobControl
    private let time: any TimeSource
    private let retention: @Sendable () -> Duration?
    private let logger: Logger

    /// `retention` is read each round (it changes on reload); `nil` keeps everything.
    public init(control: JobControl, time: any TimeSource, logger: Logger, retention: @escaping @Sendable () -> Duration?) {
        self.control = control
        self.time = time
        self.retention = retention
        self.logger = logger
    }

    public static let interval = Duration.seconds(3600)

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var next = time.now() + .seconds(60)
            while !Task.isCancelled {
                do {
                    try await time.sleep(until: next)
                } catch {
                    return
                }
                next = time.now() + Self.interval
                guard let keep = retention() else { continue }
                do {
                    _ = try await control.prune(before: time.now() - keep)
                } catch is CancellationError {
                    return
                } catch {
                    logger.error("Pruning old jobs failed; will try again", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}
