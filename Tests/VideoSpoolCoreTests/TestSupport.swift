import Testing
import VideoSpoolCore

/// SplitMix64: a tiny, fast, seedable generator so jitter is the same on every run.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        self.state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Seeds used by tests that check a jittered value stays within its bounds.
let jitterSeeds: [UInt64] = Array(0..<200)

/// The one model the daemon validates.
let seedanceModel = "bytedance/dreamina-seedance-2-0-mini"

/// 2026-11-25T09:23:13.000Z, an arbitrary "now".
let referenceTime = Timestamp(secondsSinceEpoch: 1_795_598_593)

/// Parses a JSON text that the test itself wrote; a failure is a bug in the test.
func json(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> JSONValue {
    do {
        return try JSONParser().parse(text)
    } catch {
        Issue.record("test JSON does not parse: \(error)", sourceLocation: sourceLocation)
        throw error
    }
}

/// Parses a JSON object that the test itself wrote.
func jsonObject(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> JSONObject {
    try #require(try json(text, sourceLocation: sourceLocation).objectValue, sourceLocation: sourceLocation)
}

/// Parses bytes the code under test produced; `nil` (with a recorded issue) when they are not JSON.
func parsed(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws -> JSONValue {
    do {
        return try JSONParser().parse(bytes)
    } catch {
        Issue.record("output is not valid JSON: \(error)", sourceLocation: sourceLocation)
        throw error
    }
}

func makeJob(
    phase: JobPhase = .queued,
    acceptedAt: Timestamp = referenceTime,
    metadata: JSONObject? = nil
) -> Job {
    Job(
        id: JobID("job-1")!,
        phase: phase,
        model: seedanceModel,
        callbackURLs: ["https://hooks.example.com/video"],
        metadata: metadata,
        acceptedAt: acceptedAt,
        sourceName: "job-1.json",
        parameters: GenerationParameters(resolution: "720p", durationSeconds: 5)
    )
}
