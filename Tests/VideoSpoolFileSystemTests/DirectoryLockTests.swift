#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import VideoSpoolFileSystem
import VideoSpoolTesting

/// flock(2) locks conflict between open file descriptions, also within one process, so one test
/// process can play the daemon and its rivals.
struct DirectoryLockTests {
    static func acquired(_ attempt: DirectoryLock.Attempt) -> DirectoryLock? {
        if case .acquired(let lock) = attempt { return lock }
        return nil
    }

    @Test func anExclusiveHolderShutsOutEveryoneAndIsNamedByItsPID() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/videospool.lock"
            let owner = try #require(Self.acquired(try DirectoryLock.attempt(path, mode: .exclusive)))
            #expect(try String(contentsOfFile: path, encoding: .utf8) == "\(getpid())\n")

            guard case .heldExclusively(let pid) = try DirectoryLock.attempt(path, mode: .exclusive) else {
                Issue.record("a second exclusive lock was granted")
                return
            }
            #expect(pid == getpid())
            guard case .heldExclusively(let probed) = try DirectoryLock.attempt(path, mode: .shared) else {
                Issue.record("a shared lock was granted beside an exclusive one")
                return
            }
            #expect(probed == getpid())

            owner.release()
            // A process another test spawns at that moment holds a copy of the descriptor (and so
            // the lock) from fork until its exec closes it (O_CLOEXEC): re-checked until it is gone.
            try await eventually(timeout: .seconds(10), "the lock released by release()") {
                Self.acquired(try DirectoryLock.attempt(path, mode: .exclusive)) != nil
            }
        }
    }

    @Test func sharedHoldersCoexistAndKeepADaemonOutWithoutLookingLikeOne() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/videospool.lock"
            let first = try #require(Self.acquired(try DirectoryLock.attempt(path, mode: .shared)))
            let second = try #require(Self.acquired(try DirectoryLock.attempt(path, mode: .shared)))
            guard case .heldShared = try DirectoryLock.attempt(path, mode: .exclusive) else {
                Issue.record("an exclusive lock was granted, or shared holders were taken for a daemon")
                return
            }
            first.release()
            guard case .heldShared = try DirectoryLock.attempt(path, mode: .exclusive) else {
                Issue.record("one shared holder left should still keep the daemon out")
                return
            }
            second.release()
            // As above: a process another test forks meanwhile holds a copy until its exec.
            try await eventually(timeout: .seconds(10), "the lock released by the last shared holder") {
                Self.acquired(try DirectoryLock.attempt(path, mode: .exclusive)) != nil
            }
        }
    }

    @Test func theLockGoesWithTheLastReference() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/videospool.lock"
            do {
                let lock = Self.acquired(try DirectoryLock.attempt(path, mode: .exclusive))
                #expect(lock != nil)
            }
            try await eventually(timeout: .seconds(10), "the lock released with its last reference") {
                Self.acquired(try DirectoryLock.attempt(path, mode: .exclusive)) != nil
            }
        }
    }

    @Test func aPIDLeftByADeadHolderIsNotNamed() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/videospool.lock"
            // An earlier owner killed with SIGKILL leaves its PID in the file; a new one takes the
            // lock by another descriptor that has not written its own PID yet.
            let dead = try Self.deadPID()
            try "\(dead)\n".write(toFile: path, atomically: false, encoding: .utf8)
            let descriptor = open(path, O_RDONLY)
            defer { close(descriptor) }
            #expect(flock(descriptor, LOCK_EX | LOCK_NB) == 0)
            guard case .heldExclusively(let pid) = try DirectoryLock.attempt(path, mode: .exclusive, pidWait: .milliseconds(50)) else {
                Issue.record("the lock was granted twice")
                return
            }
            #expect(pid == nil, "PID \(dead) no longer exists and must not be named")
        }
    }

    @Test func aLockFileThatIsNotARegularFileIsAnError() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/videospool.lock"
            #expect(mkdir(path, 0o755) == 0)
            #expect(throws: SpoolFileSystemError.self) { try DirectoryLock.attempt(path, mode: .exclusive) }
        }
    }

    /// The PID of a process that has exited (and been reaped).
    static func deadPID() throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }
}
