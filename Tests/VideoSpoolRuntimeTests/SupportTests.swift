import Testing
import VideoSpoolCore
import VideoSpoolRuntime

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

    @Test(.timeLimit(.minutes(1)))
    func aWaiterGetsTheNextReleasedSlot() async throws {
        let slots = RequestSlots(limit: 1)
        try await slots.acquire()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await slots.acquire() }
            // The waiter cannot proceed until the slot is released.
            slots.release()
            try await group.waitForAll()
        }
        #expect(slots.inUse == 1)
    }

    @Test(.timeLimit(.minutes(1)))
    func cancellingAWaiterThrowsAndLeavesTheCountAlone() async throws {
        let slots = RequestSlots(limit: 1)
        try await slots.acquire()
        let waiter = Task { try await slots.acquire() }
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        #expect(slots.inUse == 1)
        slots.release()
        #expect(slots.tryAcquire())
    }

    @Test func raisingTheLimitAdmitsWaiters() async throws {
        let slots = RequestSlots(limit: 1)
        #expect(slots.tryAcquire())
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await slots.acquire() }
            slots.setLimit(2)
            try await group.waitForAll()
        }
        #expect(slots.inUse == 2)
    }
}

struct WakeSignalTests {
    @Test(.timeLimit(.minutes(1)))
    func aSignalBeforeTheWaitIsNotLost() async {
        let signal = WakeSignal()
        signal.signal()
        signal.signal()
        await signal.wait()
    }

    @Test(.timeLimit(.minutes(1)))
    func aSignalWakesAWaiter() async {
        let signal = WakeSignal()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await signal.wait() }
            signal.signal()
        }
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
    func cancellationEndsTheWait() async {
        let signal = WakeSignal()
        let waiter = Task { await signal.wait() }
        waiter.cancel()
        await waiter.value
    }
}
