import ArgumentParser

/// The exit statuses of the client commands, from sysexits(3) so shells and systemd read them alike.
enum ExitStatus {
    /// `submit --wait`: the generation failed (error, timeout upstream, …).
    static let failed = ExitCode(1)
    /// The request is invalid (or was rejected by the daemon).
    static let dataError = ExitCode(65)
    /// The input file cannot be read.
    static let noInput = ExitCode(66)
    /// The request cannot be written into the spool.
    static let cannotCreate = ExitCode(73)
    /// `submit --wait --timeout`: no outcome yet; the job goes on. Operator commands: a daemon owns
    /// the store but its control socket does not answer; nothing was changed.
    static let temporaryFailure = ExitCode(75)
    /// The configuration does not load (as `run` and `check-config`).
    static let configuration = ExitCode(78)
}
