import Logging
public import VideoSpoolCore

extension PipelineContext {
    /// Commits changes that act on jobs this daemon holds. Returns `false` when the store refused
    /// them because a job's lease was lost (another daemon holds it now): the caller drops the job
    /// and does nothing more for it. Any other error is thrown.
    public func commitHeld(_ changes: [StoreChange]) async throws -> Bool {
        do {
            try await timedCommit(changes)
            return true
        } catch let lost as LeaseLost {
            for id in lost.jobs {
                var logger = self.logger
                logger[metadataKey: "job.id"] = "\(id)"
                logger.notice("Job lost to another daemon; this one stops acting on it", metadata: ["event": "job.lost"])
            }
            return false
        }
    }
}
