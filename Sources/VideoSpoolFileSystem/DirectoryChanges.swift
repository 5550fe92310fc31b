import Synchronization

/// Which spool directories changed since they were last synced, so that a flush syncs only those
/// (each `open` and `fsync` of an unchanged directory is a system call pair per job for nothing).
///
/// A change is counted after its system call returned. A flush syncs each directory whose synced
/// count is behind, and afterwards records the count it saw before its `fsync` began: a change
/// made while that `fsync` ran stays behind, and is synced by the flush of whoever made it. Every
/// directory starts out behind, so a process's first flush syncs them all, including what an
/// earlier process changed and may not have synced.
package final class DirectoryChanges: Sendable {
    private struct Counts {
        var changed: UInt64 = 1
        var synced: UInt64 = 0
    }

    private let counts: Mutex<[String: Counts]>

    package init(directories: [String]) {
        counts = Mutex(Dictionary(directories.map { ($0, Counts()) }, uniquingKeysWith: { first, _ in first }))
    }

    package func changed(_ directory: String) {
        counts.withLock { $0[directory, default: Counts()].changed += 1 }
    }

    /// The directories that need an `fsync`, each with the count that `fsync` will cover.
    package func behind() -> [(directory: String, count: UInt64)] {
        counts.withLock { counts in
            counts.compactMap { directory, counts in counts.synced < counts.changed ? (directory, counts.changed) : nil }
        }
    }

    package func synced(_ directory: String, upTo count: UInt64) {
        counts.withLock { counts in
            let synced = counts[directory]?.synced ?? 0
            counts[directory, default: Counts()].synced = max(synced, count)
        }
    }
}
