import HeapModule
public import VideoSpoolCore

/// Items due at given times, earliest first, with O(log n) reschedule (lazy deletion): one timer
/// for thousands of jobs instead of a sleeping task per job.
public struct TimerQueue<ID: Hashable & Sendable>: Sendable {
    private struct Entry: Comparable, Sendable {
        let due: Timestamp
        let sequence: UInt64
        let id: ID

        static func < (lhs: Entry, rhs: Entry) -> Bool {
            (lhs.due, lhs.sequence) < (rhs.due, rhs.sequence)
        }

        static func == (lhs: Entry, rhs: Entry) -> Bool {
            lhs.due == rhs.due && lhs.sequence == rhs.sequence
        }
    }

    private var heap = Heap<Entry>()
    private var scheduled: [ID: UInt64] = [:]
    private var nextSequence: UInt64 = 0

    public init() {}

    public var count: Int { scheduled.count }
    public var isEmpty: Bool { scheduled.isEmpty }

    /// Schedules `id` at `due`, replacing any earlier schedule for it.
    public mutating func schedule(_ id: ID, at due: Timestamp) {
        nextSequence += 1
        scheduled[id] = nextSequence
        heap.insert(Entry(due: due, sequence: nextSequence, id: id))
        if heap.count > 64, heap.count > scheduled.count * 4 { compact() }
    }

    public mutating func cancel(_ id: ID) {
        scheduled[id] = nil
    }

    public func contains(_ id: ID) -> Bool { scheduled[id] != nil }

    /// The earliest due time, if anything is scheduled.
    public mutating func nextDue() -> Timestamp? {
        dropCancelled()
        return heap.min?.due
    }

    /// Removes and returns items due at or before `now`, earliest first, at most `limit`.
    public mutating func popDue(now: Timestamp, limit: Int = .max) -> [ID] {
        var due: [ID] = []
        while due.count < limit {
            dropCancelled()
            guard let first = heap.min, first.due <= now else { break }
            heap.removeMin()
            scheduled[first.id] = nil
            due.append(first.id)
        }
        return due
    }

    private mutating func dropCancelled() {
        while let first = heap.min, scheduled[first.id] != first.sequence {
            heap.removeMin()
        }
    }

    private mutating func compact() {
        heap = Heap(heap.unordered.filter { scheduled[$0.id] == $0.sequence })
    }
}
