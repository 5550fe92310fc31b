import Synchronization
import Testing
import VideoSpoolSupport

/// The group commit both job stores use, against a fake `write` the test controls.
@Suite(.timeLimit(.minutes(1)))
struct GroupCommitTests {
    /// A write that records each transaction's callers and blocks until the test opens it.
    final class GatedWriter: Sendable {
        let transactions = Mutex<[[[Int]]]>([])
        let entered: AsyncStream<Void>
        private let enteredContinuation: AsyncStream<Void>.Continuation
        private let gate = Mutex<[CheckedContinuation<Void, Never>]>([])
        private let open = Mutex(false)

        init() { (entered, enteredContinuation) = AsyncStream.makeStream(of: Void.self) }

        func write(_ callers: [[Int]]) async -> [(any Error)?] {
            transactions.withLock { $0.append(callers) }
            enteredContinuation.yield()
            // Waits for the gate; a cancelled writer gives up, as a store's retry loop does.
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let proceed = open.withLock { $0 } || Task.isCancelled
                    if proceed { continuation.resume() } else { gate.withLock { $0.append(continuation) } }
                }
            } onCancel: {
                for waiter in gate.withLock({ state in defer { state.removeAll() }; return state }) { waiter.resume() }
            }
            if Task.isCancelled { return callers.map { _ in CancellationError() } }
            return callers.map { $0.contains(-1) ? Refused() : nil }
        }

        func openGate() {
            open.withLock { $0 = true }
            for waiter in gate.withLock({ state in defer { state.removeAll() }; return state }) { waiter.resume() }
        }
    }

    struct Refused: Error {}

    @Test func commitsQueuedBehindTheLeaderShareOneTransactionAndEachGetsItsOwnOutcome() async throws {
        let group = GroupCommit<Int>()
        let writer = GatedWriter()
        var entered = writer.entered.makeAsyncIterator()
        let leader = Task { try await group.commit([1]) { await writer.write($0) } }
        _ = await entered.next()
        let good = Task { try await group.commit([2]) { await writer.write($0) } }
        let bad = Task { try await group.commit([-1]) { await writer.write($0) } }
        while group.queuedCount < 2 { await Task.yield() }
        writer.openGate()
        try await leader.value
        try await good.value
        await #expect(throws: Refused.self) { try await bad.value }
        let transactions = writer.transactions.withLock { $0 }
        #expect(transactions.count == 2)
        #expect(Set(transactions[1]) == [[2], [-1]], "the two queued commits went together")
    }

    /// With room for two transactions, a commit that arrives while one is being written starts
    /// the second at once; a third waits for either and goes with the next one.
    @Test func aSecondTransactionOverlapsTheFirstWhenTwoAreAllowed() async throws {
        let group = GroupCommit<Int>(maximumTransactions: 2)
        let writer = GatedWriter()
        var entered = writer.entered.makeAsyncIterator()
        let first = Task { try await group.commit([1]) { await writer.write($0) } }
        _ = await entered.next()
        let second = Task { try await group.commit([2]) { await writer.write($0) } }
        _ = await entered.next()
        #expect(writer.transactions.withLock { $0 } == [[[1]], [[2]]], "both written at the same time")
        let third = Task { try await group.commit([3]) { await writer.write($0) } }
        while group.queuedCount < 1 { await Task.yield() }
        writer.openGate()
        try await first.value
        try await second.value
        try await third.value
        let transactions = writer.transactions.withLock { $0 }
        #expect(transactions.count == 3)
        #expect(transactions[2] == [[3]])
        #expect(group.queuedCount == 0)
        // Both leaders are gone: the next commit leads again at once.
        try await group.commit([4]) { await writer.write($0) }
        #expect(writer.transactions.withLock { $0 }.last == [[4]])
    }

    /// Riders start no transaction; they go with the next one, once, after its callers' changes.
    @Test func ridersGoWithTheNextTransactionAndStartNone() async throws {
        let group = GroupCommit<Int>()
        let writer = GatedWriter()
        writer.openGate()
        group.ride([7, 8])
        #expect(writer.transactions.withLock { $0.isEmpty })
        #expect(group.riderCount == 2)
        try await group.commit([1]) { await writer.write($0) }
        try await group.commit([2]) { await writer.write($0) }
        #expect(writer.transactions.withLock { $0 } == [[[1], [7, 8]], [[2]]])
        #expect(group.riderCount == 0)
    }

    /// A leader cancelled while it writes (a shutdown during an outage) gets its cancellation; the
    /// commits queued behind it were not cancelled: one of them leads on and all of them land.
    @Test func aCancelledLeaderHandsOverInsteadOfFailingItsFollowers() async throws {
        let group = GroupCommit<Int>()
        let writer = GatedWriter()
        var entered = writer.entered.makeAsyncIterator()
        let leader = Task { try await group.commit([1]) { await writer.write($0) } }
        _ = await entered.next()
        let followers = (2...4).map { value in Task { try await group.commit([value]) { await writer.write($0) } } }
        while group.queuedCount < 3 { await Task.yield() }
        leader.cancel()
        await #expect(throws: CancellationError.self) { try await leader.value }
        _ = await entered.next()  // a follower leads now
        writer.openGate()
        for follower in followers { try await follower.value }
        let written = writer.transactions.withLock { $0 }.dropFirst().flatMap { $0 }.flatMap { $0 }
        #expect(Set(written) == [2, 3, 4])
        #expect(group.queuedCount == 0)
    }
}
