import Testing
import VideoSpoolCore
import VideoSpoolRuntime
import VideoSpoolTesting

struct TimerQueueTests {
    let base = Timestamp(millisecondsSinceEpoch: 1_000_000)

    @Test func itemsComeOutInDueOrder() {
        var queue = TimerQueue<String>()
        queue.schedule("c", at: base + .seconds(3))
        queue.schedule("a", at: base + .seconds(1))
        queue.schedule("b", at: base + .seconds(2))
        #expect(queue.nextDue() == base + .seconds(1))
        #expect(queue.popDue(now: base + .seconds(2)) == ["a", "b"])
        #expect(queue.popDue(now: base + .seconds(2)).isEmpty)
        #expect(queue.count == 1)
    }

    @Test func reschedulingReplacesTheEarlierTime() {
        var queue = TimerQueue<String>()
        queue.schedule("a", at: base + .seconds(1))
        queue.schedule("a", at: base + .seconds(5))
        #expect(queue.popDue(now: base + .seconds(2)).isEmpty)
        #expect(queue.nextDue() == base + .seconds(5))
        #expect(queue.popDue(now: base + .seconds(5)) == ["a"])
    }

    @Test func cancelledItemsNeverComeOut() {
        var queue = TimerQueue<Int>()
        for index in 0..<1000 { queue.schedule(index, at: base + .milliseconds(Int64(index))) }
        for index in 0..<1000 where index % 2 == 0 { queue.cancel(index) }
        let due = queue.popDue(now: base + .seconds(10))
        #expect(due == Array(stride(from: 1, to: 1000, by: 2)))
        #expect(queue.isEmpty)
    }

    @Test func popDueHonoursTheLimit() {
        var queue = TimerQueue<Int>()
        for index in 0..<10 { queue.schedule(index, at: base) }
        #expect(queue.popDue(now: base, limit: 3).count == 3)
        #expect(queue.count == 7)
    }
}

struct RequestSlotsTests {
    @Test func slotsAreLimitedAndReleased() async throws {
        let slots = RequestSlots(limit: 2)
        #expect(slots.tryAcquire())
        #expect(slots.tryAcquire())
        #expect(!slots.tryAcquire())
        slots.release()
        #expect(slots.tryAcquire())
        #expect(slots.inUse == 2)
    }

    @Test func raisingTheLimitWakesListenersWhoMayTakeMore() {
        let slots = RequestSlots(limit: 1)
        let wake = WakeSignal()
        slots.notifyOnRelease(wake)
        #expect(slots.tryAcquire())
        #expect(!slots.tryAcquire())
        slots.setLimit(1)
        #expect(!wake.isPending, "an unchanged limit wakes nobody")
        slots.setLimit(2)
        #expect(wake.isPending)
        #expect(slots.tryAcquire())
        #expect(slots.inUse == 2)
    }

    @Test func aReleaseWakesListenersUnlessAskedNotTo() {
        let slots = RequestSlots(limit: 1)
        let wake = WakeSignal()
        slots.notifyOnRelease(wake)
        #expect(slots.tryAcquire())
        slots.release(notifyingListeners: false)
        #expect(!wake.isPending)
        #expect(slots.tryAcquire())
        slots.release()
        #expect(wake.isPending)
    }
}

struct WakeSignalTests {
    @Test(.timeLimit(.minutes(1)))
    func aSignalBeforeTheWaitIsNotLost() async throws {
        let signal = WakeSignal()
        signal.signal()
        signal.signal()
        #expect(signal.isPending, "a signal with nobody waiting is kept")
        #expect(!signal.hasWaiter)
        // Returns without another signal: the kept one wakes it.
        try await withTimeout(.seconds(10), waitingFor: "the pending signal to end the wait") { await signal.wait() }
        #expect(!signal.isPending, "the two signals coalesced into one wake-up")

        // So the next wait really waits, until the next signal.
        let waiter = Task { await signal.wait() }
        try await eventually("the second wait to be waiting") { signal.hasWaiter }
        signal.signal()
        try await withTimeout(.seconds(10), waitingFor: "the signal to wake the second wait") { await waiter.value }
        #expect(!signal.hasWaiter && !signal.isPending)
    }

    @Test(.timeLimit(.minutes(1)))
    func aSignalWakesAWaiter() async throws {
        let signal = WakeSignal()
        let waiter = Task { await signal.wait() }
        // Proven waiting before the signal, so the signal must resume it (not just be kept).
        try await eventually("the waiter to be waiting") { signal.hasWaiter }
        #expect(!signal.isPending)
        signal.signal()
        try await withTimeout(.seconds(10), waitingFor: "the signal to wake the waiter") { await waiter.value }
        #expect(!signal.hasWaiter)
        #expect(!signal.isPending, "a signal that woke a waiter is not kept for the next wait")
    }

    @Test(.timeLimit(.minutes(1)))
    func aDeadlineEndsTheWait() async {
        let signal = WakeSignal()
        let time = SystemTimeSource()
        let start = time.now()
        await signal.wait(until: start + .milliseconds(30), time: time)
        #expect(time.now() >= start + .milliseconds(30))
    }

    @Test(.timeLimit(.minutes(1)))
    func cancellationEndsTheWait() async throws {
        let signal = WakeSignal()
        let waiter = Task { await signal.wait() }
        try await eventually("the waiter to be waiting") { signal.hasWaiter }
        waiter.cancel()
        try await withTimeout(.seconds(10), waitingFor: "cancellation to end the wait") { await waiter.value }
        #expect(!signal.hasWaiter, "the cancelled waiter is gone, so another loop may wait")
        #expect(!signal.isPending, "cancellation is not a signal")

        // A task cancelled before it waits does not wait at all.
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            await signal.wait()
        }
        try await withTimeout(.seconds(10), waitingFor: "an already cancelled wait to return") { await early.value }
        #expect(!signal.hasWaiter)
    }
}
