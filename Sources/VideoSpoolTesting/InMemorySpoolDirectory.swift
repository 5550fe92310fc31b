import Synchronization
public import VideoSpoolCore

/// A `SpoolDirectory` in memory for runtime tests: files are dropped with ``drop(_:bytes:)``,
/// which also sends the inotify-like hint, and outcomes are kept in dictionaries.
public final class InMemorySpoolDirectory: SpoolDirectory, Sendable {
    public struct Entry: Sendable {
        public var bytes: [UInt8]
        public var modifiedAt: Timestamp
        public var linkCount: Int
        /// When set, reading the entry reports this instead of bytes (symlink, FIFO, ...).
        public var unusable: ValidationIssue?
    }

    private struct State {
        var incoming: [String: Entry] = [:]
        var rejected: [String: [UInt8]] = [:]
        var errorDocuments: [String: [UInt8]] = [:]
        var done: [JobID: [UInt8]] = [:]
        var failed: [JobID: [UInt8]] = [:]
        var watchers: [AsyncStream<SpoolChange>.Continuation] = []
        var outcomeWrites = 0
        /// Moves out of `incoming/` that fail, by name, with this error.
        var failingMoves: [String: any Error & Sendable] = [:]
        /// Flushes wait here while ``holdFlushes()`` is in force.
        var flushesHeld = false
        var heldFlushes: [CheckedContinuation<Void, Never>] = []
    }

    /// What the daemon did to the spool, in order.
    public enum Event: Sendable, Hashable {
        case read(String)
        case removed(String)
        case rejected(String)
        /// A removal or a move to `rejected/` was tried and failed (see ``failMoves(of:with:)``).
        case moveFailed(String)
    }

    private let state = Mutex(State())
    private let outcomeContinuation: AsyncStream<JobID>.Continuation
    private let eventContinuation: AsyncStream<Event>.Continuation
    /// Yields a job id each time its outcome file is written.
    public let outcomeWrites: AsyncStream<JobID>
    /// Yields every read, removal and rejection.
    public let events: AsyncStream<Event>

    public init() {
        (outcomeWrites, outcomeContinuation) = AsyncStream.makeStream(of: JobID.self)
        (events, eventContinuation) = AsyncStream.makeStream(of: Event.self)
    }

    // MARK: - Test controls

    /// Publishes a request file and tells watchers about it.
    public func drop(_ name: String, bytes: [UInt8], modifiedAt: Timestamp? = nil, linkCount: Int = 1) {
        let entry = Entry(
            bytes: bytes,
            modifiedAt: modifiedAt ?? SystemClockForTests.now(),
            linkCount: linkCount,
            unusable: nil
        )
        let watchers = state.withLock { state in
            state.incoming[name] = entry
            return state.watchers
        }
        for watcher in watchers { watcher.yield(.file(name)) }
    }

    /// Places a file without telling watchers (as if inotify missed it).
    public func place(_ name: String, bytes: [UInt8]) {
        state.withLock {
            $0.incoming[name] = Entry(bytes: bytes, modifiedAt: SystemClockForTests.now(), linkCount: 1, unusable: nil)
        }
    }

    /// Tells watchers to rescan, as inotify does when its event queue overflows.
    public func overflowWatchers() {
        for watcher in state.withLock({ $0.watchers }) { watcher.yield(.rescan) }
    }

    public func dropUnusable(_ name: String, issue: ValidationIssue) {
        let watchers = state.withLock { state in
            state.incoming[name] = Entry(bytes: [], modifiedAt: SystemClockForTests.now(), linkCount: 1, unusable: issue)
            return state.watchers
        }
        for watcher in watchers { watcher.yield(.file(name)) }
    }

    /// Makes every removal of `name` and move of it to `rejected/` fail with `error` (`nil` stops it).
    public func failMoves(of name: String, with error: (any Error & Sendable)?) {
        state.withLock { $0.failingMoves[name] = error }
    }

    private func failIfAsked(_ name: String) throws {
        if let error = state.withLock({ $0.failingMoves[name] }) {
            eventContinuation.yield(.moveFailed(name))
            throw error
        }
    }

    public var incomingFiles: [String] { state.withLock { $0.incoming.keys.sorted() } }
    public var rejectedFiles: [String: [UInt8]] { state.withLock { $0.rejected } }
    public var errorDocuments: [String: [UInt8]] { state.withLock { $0.errorDocuments } }
    public var doneFiles: [JobID: [UInt8]] { state.withLock { $0.done } }
    public var failedFiles: [JobID: [UInt8]] { state.withLock { $0.failed } }

    // MARK: - SpoolDirectory

    public func prepare() throws {}

    public func watch() throws -> AsyncStream<SpoolChange> {
        let (stream, continuation) = AsyncStream.makeStream(of: SpoolChange.self)
        state.withLock { $0.watchers.append(continuation) }
        return stream
    }

    public func incomingNames() async throws -> [String] {
        state.withLock { $0.incoming.keys.filter { !$0.hasPrefix(".") && $0.hasSuffix(".json") }.sorted() }
    }

    public func read(_ name: String, maximumBytes: Int) async -> SpoolRead {
        defer { eventContinuation.yield(.read(name)) }
        guard let entry = state.withLock({ $0.incoming[name] }) else { return .vanished }
        if let issue = entry.unusable { return .unusable(issue) }
        if entry.bytes.count > maximumBytes {
            return .unusable(ValidationIssue(field: nil, code: .tooLarge, message: "too large"))
        }
        return .file(SpoolFile(name: name, bytes: entry.bytes, modifiedAt: entry.modifiedAt, linkCount: entry.linkCount))
    }

    public func remove(_ name: String) async throws {
        try failIfAsked(name)
        _ = state.withLock { $0.incoming.removeValue(forKey: name) }
        eventContinuation.yield(.removed(name))
    }

    public func reject(_ name: String, errorDocument: [UInt8]) async throws -> String {
        try failIfAsked(name)
        defer { eventContinuation.yield(.rejected(name)) }
        return state.withLock { state in
            let entry = state.incoming.removeValue(forKey: name)
            var target = name
            var suffix = 1
            while state.rejected[target] != nil {
                target = "\(name.dropLast(5)).\(suffix).json"
                suffix += 1
            }
            state.rejected[target] = entry?.bytes ?? []
            state.errorDocuments[target + ".error.json"] = errorDocument
            return target
        }
    }

    public func flush() async throws {
        await withCheckedContinuation { continuation in
            let held = state.withLock { state in
                if state.flushesHeld { state.heldFlushes.append(continuation) }
                return state.flushesHeld
            }
            if !held { continuation.resume() }
        }
    }

    /// Makes every `flush()` wait until ``releaseFlushes()``: an operation that flushes (a prune
    /// batch) stays under way for as long as a test needs.
    public func holdFlushes() {
        state.withLock { $0.flushesHeld = true }
    }

    public func releaseFlushes() {
        let waiting = state.withLock { state in
            state.flushesHeld = false
            defer { state.heldFlushes = [] }
            return state.heldFlushes
        }
        for continuation in waiting { continuation.resume() }
    }

    public func writeOutcome(_ document: [UInt8], jobID: JobID, completed: Bool) async throws {
        state.withLock { state in
            if completed { state.done[jobID] = document } else { state.failed[jobID] = document }
            state.outcomeWrites += 1
        }
        outcomeContinuation.yield(jobID)
    }

    public func removeOutcome(jobID: JobID) async throws {
        state.withLock { state in
            state.done[jobID] = nil
            state.failed[jobID] = nil
        }
    }
}

/// Wall-clock "now" for fakes that need a timestamp.
public enum SystemClockForTests {
    public static func now() -> Timestamp {
        Timestamp(millisecondsSinceEpoch: Int64((ContinuousClock.now - startInstant).wholeMilliseconds) + startMilliseconds)
    }

    private static let startInstant = ContinuousClock.now
    private static let startMilliseconds: Int64 = {
        var value = timespec()
        clock_gettime(CLOCK_REALTIME, &value)
        return Int64(value.tv_sec) * 1000 + Int64(value.tv_nsec) / 1_000_000
    }()
}

#if canImport(Glibc)
import Glibc
#endif
