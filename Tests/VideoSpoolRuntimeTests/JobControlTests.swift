import Logging
import Testing
import VideoSpoolCore
import VideoSpoolRuntime
import VideoSpoolTesting

struct JobControlTests {
    /// A daemon that stops during a prune (the control service cancels the operation) ends it
    /// between batches and says the work is incomplete, instead of failing without an answer.
    @Test(.timeLimit(.minutes(1)))
    func aPruneInterruptedByCancellationSaysHowFarItGot() async throws {
        let control = JobControl(
            store: InMemoryJobStore(),
            spool: InMemorySpoolDirectory(),
            time: SystemTimeSource(),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        let interrupted = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await control.prune(before: SystemTimeSource().now())
        }
        let result = try await interrupted.value
        #expect(!result.complete)
        #expect(result.jobs.isEmpty)
        #expect(result.message.contains("pruned 0") && result.message.contains("interrupted"), "\(result.message)")

        let whole = try await control.prune(before: SystemTimeSource().now())
        #expect(whole.complete)
        #expect(!whole.message.contains("interrupted"))
    }
}
