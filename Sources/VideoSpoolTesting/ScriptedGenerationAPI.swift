import Synchronization
public import VideoSpoolCore

/// A `GenerationAPI` whose answers come from closures, recording every call, for runtime tests.
public final class ScriptedGenerationAPI: GenerationAPI, Sendable {
    public struct Call: Sendable, Hashable {
        public enum Kind: Sendable, Hashable {
            case submit
            case status(String)
        }

        public let kind: Kind
        public let jobID: JobID
        public let body: [UInt8]
    }

    public typealias SubmitHandler = @Sendable (_ body: [UInt8], _ jobID: JobID, _ attempt: Int) async -> APIExchange
    public typealias StatusHandler = @Sendable (_ generationID: String, _ jobID: JobID, _ poll: Int) async -> APIExchange

    private struct State {
        var calls: [Call] = []
        var submitHandler: SubmitHandler
        var statusHandler: StatusHandler
        var submitsPerJob: [JobID: Int] = [:]
        var pollsPerGeneration: [String: Int] = [:]
        var generationsInFlight = 0
        var maximumGenerationsInFlight = 0
    }

    private let state: Mutex<State>
    private let callContinuation: AsyncStream<Call>.Continuation
    /// Every call, as it happens.
    public let calls: AsyncStream<Call>

    public init(submit: @escaping SubmitHandler = ScriptedGenerationAPI.accepting, status: @escaping StatusHandler = ScriptedGenerationAPI.completingAfter(polls: 1)) {
        state = Mutex(State(submitHandler: submit, statusHandler: status))
        (calls, callContinuation) = AsyncStream.makeStream(of: Call.self)
    }

    public var recordedCalls: [Call] { state.withLock { $0.calls } }
    public var submitCount: Int { state.withLock { $0.calls.filter { $0.kind == .submit }.count } }
    public func submits(for id: JobID) -> Int { state.withLock { $0.submitsPerJob[id, default: 0] } }
    /// Most generations that were submitted and not yet reported finished at the same time.
    public var maximumGenerationsInFlight: Int { state.withLock { $0.maximumGenerationsInFlight } }

    public func setSubmitHandler(_ handler: @escaping SubmitHandler) { state.withLock { $0.submitHandler = handler } }

    public func submit(body: [UInt8], jobID: JobID) async -> APIExchange {
        let (handler, attempt) = state.withLock { state -> (SubmitHandler, Int) in
            state.calls.append(Call(kind: .submit, jobID: jobID, body: body))
            state.submitsPerJob[jobID, default: 0] += 1
            return (state.submitHandler, state.submitsPerJob[jobID]!)
        }
        callContinuation.yield(Call(kind: .submit, jobID: jobID, body: body))
        let exchange = await handler(body, jobID, attempt)
        if case .response(let response) = exchange, (200..<300).contains(response.statusCode) {
            state.withLock { state in
                state.generationsInFlight += 1
                state.maximumGenerationsInFlight = max(state.maximumGenerationsInFlight, state.generationsInFlight)
            }
        }
        return exchange
    }

    public func status(of generationID: String, jobID: JobID) async -> APIExchange {
        let (handler, poll) = state.withLock { state -> (StatusHandler, Int) in
            state.calls.append(Call(kind: .status(generationID), jobID: jobID, body: []))
            state.pollsPerGeneration[generationID, default: 0] += 1
            return (state.statusHandler, state.pollsPerGeneration[generationID]!)
        }
        callContinuation.yield(Call(kind: .status(generationID), jobID: jobID, body: []))
        let exchange = await handler(generationID, jobID, poll)
        if case .response(let response) = exchange, let status = GenerationStatusResponse(body: response.body),
            status.progress == .completed || status.progress == .failed
        {
            state.withLock { $0.generationsInFlight -= 1 }
        }
        return exchange
    }

    // MARK: - Ready-made answers

    /// Accepts every submission with generation id `gen-<job id>`.
    public static let accepting: SubmitHandler = { _, jobID, _ in
        .response(APIResponse(statusCode: 200, body: Array(#"{"id":"gen-\#(jobID)","status":"queued"}"#.utf8)))
    }

    /// Reports `generating` until the `polls`-th poll, then `completed` with a video and usage.
    public static func completingAfter(polls: Int) -> StatusHandler {
        { generationID, _, poll in
            if poll < polls { return status(generationID, "generating") }
            return .response(
                APIResponse(
                    statusCode: 200,
                    body: Array(
                        #"{"id":"\#(generationID)","status":"completed","video":{"url":"https://cdn.test/\#(generationID).mp4"},"meta":{"usage":{"credits_used":120000,"usd_spent":0.06}}}"#
                            .utf8
                    )
                )
            )
        }
    }

    public static func status(_ generationID: String, _ status: String) -> APIExchange {
        .response(APIResponse(statusCode: 200, body: Array(#"{"id":"\#(generationID)","status":"\#(status)"}"#.utf8)))
    }

    public static func httpStatus(_ code: Int, message: String = "error") -> APIExchange {
        .response(APIResponse(statusCode: code, body: Array(#"{"message":"\#(message)"}"#.utf8)))
    }
}
