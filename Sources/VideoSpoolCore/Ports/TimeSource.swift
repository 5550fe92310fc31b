/// Wall-clock time and sleeping, injected so that tests control time.
public protocol TimeSource: Sendable {
    func now() -> Timestamp
    /// Suspends until `deadline` (or returns at once if it has passed). Throws on cancellation.
    func sleep(until deadline: Timestamp) async throws
}
