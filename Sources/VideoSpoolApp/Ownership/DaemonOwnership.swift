import Foundation
public import Logging
import VideoSpoolFileSystem

/// The locks that make one daemon the only owner of its state directory and of its spool:
/// `state.directory/videospool.lock` and `spool.directory/.videospool.lock` (outside `incoming/`,
/// so intake never sees it). A daemon holds both exclusively for its lifetime; operator commands
/// that write to the store while no daemon runs hold them shared for as long as they write, so a
/// daemon starting meanwhile waits for them. The two locks are separate: a store that is not in
/// `state.directory` may one day skip the spool's lock, or the other way round.
public final class DaemonOwnership: Sendable {
    public static let stateLockName = "videospool.lock"
    public static let spoolLockName = ".videospool.lock"

    /// One directory to own, and the configuration key that names it (for messages).
    public struct Claim: Sendable, Hashable {
        public var key: String
        public var directory: String
        public var lockPath: String

        public static func state(_ directory: String) -> Claim {
            Claim(key: "state.directory", directory: directory, lockPath: directory + "/" + stateLockName)
        }

        public static func spool(_ directory: String) -> Claim {
            Claim(key: "spool.directory", directory: directory, lockPath: directory + "/" + spoolLockName)
        }
    }

    /// What a daemon owns: the state directory, and the spool unless `lockingSpool` is false (by
    /// default, on a shared store: daemons sharing a spool directory are arbitrated by the store).
    public static func claims(for settings: DaemonSettings, lockingSpool: Bool? = nil) -> [Claim] {
        var claims = [Claim.state(settings.stateDirectory)]
        if lockingSpool ?? (settings.storeBackend == .sqlite) { claims.append(.spool(settings.spoolDirectory)) }
        return claims
    }

    private let locks: [DirectoryLock]

    private init(locks: [DirectoryLock]) {
        self.locks = locks
    }

    /// Gives the locks back; also done when the last reference goes (and by the kernel when the
    /// process ends).
    public func release() {
        for lock in locks { lock.release() }
    }

    /// Takes every lock of `claims` exclusively, in order, for a daemon. Where operator commands
    /// hold one (shared), waits for them for up to `commandWait`, logging once.
    ///
    /// - Throws: ``OwnershipError`` when another daemon owns a directory or commands keep it
    ///   busy; ``ConfigurationError`` when a directory or lock file cannot be created or locked.
    public static func claim(
        _ claims: [Claim],
        commandWait: Duration = .zero,
        logger: Logger? = nil
    ) async throws -> DaemonOwnership {
        let clock = ContinuousClock()
        let deadline = clock.now + commandWait
        var held: [DirectoryLock] = []
        var logged = false
        for claim in claims {
            try makeDirectory(claim)
            while true {
                switch try attempt(claim, mode: .exclusive) {
                case .acquired(let lock):
                    held.append(lock)
                case .heldExclusively(let pid):
                    throw OwnershipError(claim: claim, reason: .daemon(pid: pid))
                case .heldShared:
                    guard clock.now < deadline else { throw OwnershipError(claim: claim, reason: .commands) }
                    if !logged {
                        logger?.notice(
                            "Waiting for videospool commands to finish with the store",
                            metadata: ["directory": "\(claim.directory)", "lock": "\(claim.lockPath)"]
                        )
                        logged = true
                    }
                    try await Task.sleep(for: .milliseconds(50))
                    continue
                }
                break
            }
        }
        return DaemonOwnership(locks: held)
    }

    /// ``claim(_:commandWait:logger:)`` without waiting, for a daemon assembled in-process.
    public static func claimNow(_ claims: [Claim]) throws -> DaemonOwnership {
        var held: [DirectoryLock] = []
        for claim in claims {
            try makeDirectory(claim)
            switch try attempt(claim, mode: .exclusive) {
            case .acquired(let lock): held.append(lock)
            case .heldExclusively(let pid): throw OwnershipError(claim: claim, reason: .daemon(pid: pid))
            case .heldShared: throw OwnershipError(claim: claim, reason: .commands)
            }
        }
        return DaemonOwnership(locks: held)
    }

    /// Who may write the store, as an operator command sees it.
    public enum Probe: Sendable {
        /// No daemon runs: the command holds the locks shared (no daemon can start) until it
        /// releases this.
        case free(DaemonOwnership)
        /// A daemon owns this directory: ask it, never write behind its back.
        case ownedByDaemon(Claim, pid: Int32?)
    }

    /// Decides from the locks, not from the control socket, whether a daemon runs.
    public static func probe(_ claims: [Claim]) throws -> Probe {
        var held: [DirectoryLock] = []
        for claim in claims {
            switch try attempt(claim, mode: .shared) {
            case .acquired(let lock):
                held.append(lock)
            case .heldExclusively(let pid):
                for lock in held { lock.release() }
                return .ownedByDaemon(claim, pid: pid)
            case .heldShared:
                preconditionFailure("Invalid state: a shared lock refused because of shared holders")
            }
        }
        return .free(DaemonOwnership(locks: held))
    }

    private static func attempt(_ claim: Claim, mode: DirectoryLock.Mode) throws -> DirectoryLock.Attempt {
        do {
            return try DirectoryLock.attempt(claim.lockPath, mode: mode)
        } catch {
            throw ConfigurationError(key: claim.key, "cannot lock \(claim.lockPath): \(error)")
        }
    }

    private static func makeDirectory(_ claim: Claim) throws {
        do {
            try FileManager.default.createDirectory(atPath: claim.directory, withIntermediateDirectories: true)
        } catch {
            throw ConfigurationError(key: claim.key, "cannot create \(claim.directory): \(error.localizedDescription)")
        }
    }
}

/// Another process owns a directory this one needs. Exit status 75 (`EX_TEMPFAIL`): trying again
/// later may succeed.
public struct OwnershipError: Error, Sendable, CustomStringConvertible {
    public enum Reason: Sendable, Hashable {
        /// A daemon holds the lock (its PID, if it could be read).
        case daemon(pid: Int32?)
        /// Operator commands held the lock (shared) for longer than a daemon waits.
        case commands
        /// A daemon holds the lock, but its control socket does not answer (it is starting or
        /// stopping): an operator command must not write the store behind its back.
        case daemonNotAnswering(pid: Int32?)
    }

    public let claim: DaemonOwnership.Claim
    public let reason: Reason

    public init(claim: DaemonOwnership.Claim, reason: Reason) {
        self.claim = claim
        self.reason = reason
    }

    /// `EX_TEMPFAIL` from sysexits.h.
    public static let exitStatus: Int32 = 75

    public var description: String {
        let directory = "\(claim.key) \(claim.directory)"
        switch reason {
        case .daemon(let pid):
            return "another videospool daemon (\(Self.name(pid))) owns \(directory); only one daemon may "
                + "use a state directory and a spool at a time (lock: \(claim.lockPath))"
        case .commands:
            return "\(directory) is in use by videospool commands working on the store (for example a prune); "
                + "try again when they have finished (lock: \(claim.lockPath))"
        case .daemonNotAnswering(let pid):
            return "the videospool daemon (\(Self.name(pid))) owns \(directory), but its control socket does not "
                + "answer (it may be starting or stopping); nothing was changed: try again in a moment"
        }
    }

    private static func name(_ pid: Int32?) -> String {
        pid.map { "PID \($0)" } ?? "PID unknown"
    }
}
