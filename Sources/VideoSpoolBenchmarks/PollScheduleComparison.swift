public import VideoSpoolCore
import VideoSpoolSimulator

/// The poll-schedule benchmark: the learned schedule against fixed loops, on virtual time.
///
/// Generation times are drawn from Seedance's documented spread (``GenerationTimeModel/seedance(scale:)``)
/// and every job is driven through the daemon's own ``JobStateMachine``: submitted, answered
/// "generating" at each poll before its time and "completed" after. Nothing waits on a clock, so a
/// run of thousands of jobs takes milliseconds. The learned schedule first learns from `warmUpJobs`
/// jobs, as it would in production (falling back to the fixed schedule for the first 20), and
/// keeps learning from the measured ones.
public enum PollScheduleComparison {
    /// One schedule's results over the measured jobs.
    public struct Row: Sendable, Hashable, CustomStringConvertible {
        /// `learned`, `fixed 15 s`, `fixed 10 s`.
        public var schedule: String
        public var jobs: Int
        /// Status requests per job (the submission not counted).
        public var meanPolls: Double
        /// Seconds between a generation completing and the poll that sees it, which is when the
        /// webhook is recorded and sent.
        public var meanDelaySeconds: Double
        public var p95DelaySeconds: Double

        public var description: String {
            "\(schedule): \(format(meanPolls)) polls/job, delay mean \(format(meanDelaySeconds)) s, "
                + "p95 \(format(p95DelaySeconds)) s (\(jobs) jobs)"
        }

        private func format(_ value: Double) -> String {
            let hundredths = Int((value * 100).rounded())
            let fraction = hundredths % 100
            return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
        }
    }

    /// Runs the learned schedule (`learned`, as configured) and fixed 15 s and 10 s loops (first
    /// poll at the interval, no jitter) over the same `samples` generation times.
    public static func run(
        samples: Int,
        seed: UInt64,
        warmUpJobs: Int = 100,
        learned: PollSchedule = PollSchedule(mode: .learned)
    ) -> [Row] {
        var random = SplitMix64(seed: seed)
        let warmUp = (0..<warmUpJobs).map { _ in GenerationTimeModel.seedanceSeconds(using: &random) }
        let measured = (0..<samples).map { _ in GenerationTimeModel.seedanceSeconds(using: &random) }
        var rows = [simulate(name: "learned", schedule: learned, warmUp: warmUp, measured: measured, seed: seed)]
        for seconds in [15, 10] {
            let fixed = PollSchedule(
                mode: .fixed,
                firstDelay: .seconds(seconds),
                interval: .seconds(seconds),
                jitter: 0,
                deadline: learned.deadline
            )
            rows.append(
                simulate(name: "fixed \(seconds) s", schedule: fixed, warmUp: [], measured: measured, seed: seed)
            )
        }
        return rows
    }

    private static func simulate(
        name: String,
        schedule: PollSchedule,
        warmUp: [Double],
        measured: [Double],
        seed: UInt64
    ) -> Row {
        var random = SplitMix64(seed: seed ^ 0x5EED)
        var model = CompletionTimeModel()
        var polls: [Int] = []
        var delays: [Double] = []
        // Jobs run one after another, an hour apart; each one's completion is learned before the next.
        var start = Timestamp(secondsSinceEpoch: 1_800_000_000)
        for (index, seconds) in (warmUp + measured).enumerated() {
            let machine = JobStateMachine(policy: PipelinePolicy(poll: schedule), completionTimes: model)
            let outcome = run(machine, generationSeconds: seconds, start: start, index: index, random: &random)
            if let observation = CompletionObservation(job: outcome.job) { model.record(observation) }
            if index >= warmUp.count {
                polls.append(outcome.polls)
                delays.append(outcome.delay)
            }
            start = start + .seconds(3600)
        }
        delays.sort()
        let count = Double(max(1, measured.count))
        return Row(
            schedule: name,
            jobs: measured.count,
            meanPolls: Double(polls.reduce(0, +)) / count,
            meanDelaySeconds: delays.reduce(0, +) / count,
            p95DelaySeconds: delays.isEmpty ? 0 : delays[min(delays.count - 1, Int(0.95 * Double(delays.count)))]
        )
    }

    private static func run(
        _ machine: JobStateMachine,
        generationSeconds: Double,
        start: Timestamp,
        index: Int,
        random: inout SplitMix64
    ) -> (job: Job, polls: Int, delay: Double) {
        var job = Job(
            id: JobID(trusted: "bench-\(index)"),
            phase: .queued,
            model: model,
            callbackURLs: [],
            metadata: nil,
            acceptedAt: start,
            sourceName: "bench-\(index).json",
            parameters: GenerationParameters(resolution: "720p", durationSeconds: 5)
        )
        let readyAt = start + .seconds(double: generationSeconds)
        machine.submissionStarted(&job, now: start)
        var action = machine.submissionFinished(&job, exchange: answer("queued"), now: start, using: &random)
        var polls = 0
        while case .poll(let at) = action {
            polls += 1
            let done = at >= readyAt
            let exchange = answer(done ? "completed" : "generating")
            action = machine.pollFinished(&job, exchange: exchange, now: at, using: &random)
            if done { return (job, polls, (at - readyAt).secondsDouble) }
        }
        // Only a timeout ends a job otherwise (a generation longer than the deadline).
        return (job, polls, ((job.finishedAt ?? readyAt) - readyAt).secondsDouble)
    }

    private static let model = "bytedance/dreamina-seedance-2-0-mini"

    private static func answer(_ status: String) -> APIExchange {
        let video = status == "completed" ? #","video":{"url":"https://cdn.simulator.invalid/v.mp4"}"# : ""
        let body = #"{"id":"gen","status":"\#(status)"\#(video)}"#
        return .response(APIResponse(statusCode: 200, body: Array(body.utf8)))
    }
}
