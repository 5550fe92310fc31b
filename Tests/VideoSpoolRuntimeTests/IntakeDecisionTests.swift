import Logging
import Testing
import VideoSpoolCore
import VideoSpoolRuntime
import VideoSpoolTesting

/// What the intake does with files it cannot simply accept: content that can never become JSON is
/// rejected at once while content cut short waits, and a move that can never succeed is reported
/// once instead of being retried forever.
@Suite(.timeLimit(.minutes(1)))
struct IntakeDecisionTests {
    // MARK: - Waiting only for content that looks cut short

    /// So long that a file put off for it could only be rejected after the suite's time limit.
    static let longSettle = SpoolIntake.Configuration(settleTime: .seconds(3600), rescanInterval: .seconds(3600))

    static let neverJSON: [(name: String, bytes: [UInt8])] = [
        ("nan.json", Array(#"{"model": "bytedance/dreamina-seedance-2-0-mini", "prompt": NaN"#.utf8)),
        ("nan-complete.json", Array(#"{"model": "bytedance/dreamina-seedance-2-0-mini", "prompt": NaN}"#.utf8)),
        ("utf16le.json", [0xFF, 0xFE] + Array(#"{"model""#.utf8).flatMap { byte -> [UInt8] in [byte, 0] }),
        ("utf16be.json", [0xFE, 0xFF] + Array(#"{"model""#.utf8).flatMap { byte -> [UInt8] in [0, byte] }),
        ("latin1.json", Array(#"{"model": "bytedance/dreamina-seedance-2-0-mini", "prompt": "caf"#.utf8) + [0xE9] + Array(#"" }"#.utf8)),
        // Invalid UTF-8 in a string that is still open: no continuation can repair it.
        ("latin1-open.json", Array(#"{"prompt": "caf"#.utf8) + [0xE9, 0x20] + Array("and more".utf8)),
    ]

    static let cutShort: [(name: String, bytes: [UInt8])] = [
        ("cut-in-string.json", Array(#"{"model": "bytedance/dreamina-seedance-2-0-mini", "prompt": "a fox in the"#.utf8)),
        ("cut-mid-character.json", Array(#"{"prompt": "caf"#.utf8) + [0xC3]),
        ("cut-in-surrogate-pair.json", Array(#"{"prompt": "\ud83c"#.utf8)),
        ("empty.json", []),
    ]

    @Test func contentThatCanNeverBecomeJSONIsRejectedAtOnceWhileCutShortContentWaits() async throws {
        let harness = PipelineHarness(intake: Self.longSettle)
        let events = try await harness.run { harness in
            // Cut short first: whatever the intake does with them happens before the others' rejections.
            for file in Self.cutShort + Self.neverJSON { harness.spool.drop(file.name, bytes: file.bytes) }
            var seen: [InMemorySpoolDirectory.Event] = []
            var rejected = Set<String>()
            for await event in harness.spool.events {
                seen.append(event)
                if case .rejected(let name) = event { rejected.insert(name) }
                if rejected.isSuperset(of: Self.neverJSON.map(\.name)) { break }
            }
            return seen
        }
        for file in Self.neverJSON {
            #expect(harness.spool.rejectedFiles[file.name] == file.bytes, "\(file.name) is in rejected/")
        }
        for file in Self.cutShort {
            #expect(events.contains(.read(file.name)), "\(file.name) was looked at")
            #expect(!events.contains(.rejected(file.name)), "\(file.name) waits for its writer")
            #expect(harness.spool.incomingFiles.contains(file.name))
        }
        let codes = try Self.neverJSON.map { file -> String? in
            let report = try JSONParser().parse(try #require(harness.spool.errorDocuments[file.name + ".error.json"]))
            return report["errors"]?.arrayValue?.first?["code"]?.stringValue
        }
        #expect(codes == ["invalid_json", "invalid_json", "invalid_json", "invalid_json", "invalid_utf8", "invalid_utf8"])
    }

    /// A writer that writes in place can be caught between creating the file and writing it: the
    /// file is read empty and put off. When it is written again (inotify reports the close), it is
    /// looked at again at once, not after the settle time.
    @Test func aFilePutOffAndThenWrittenAgainIsLookedAtAgainAtOnce() async throws {
        let harness = PipelineHarness(intake: Self.longSettle)
        try await harness.run { harness in
            harness.spool.drop("never.json", bytes: [])
            harness.spool.drop("fine.json", bytes: Array(#"{"model": "bytedance/dreamina-seedance-2-0-mini", "prompt": "a fox"#.utf8))
            var events = harness.spool.events.makeAsyncIterator()
            var read = Set<String>()
            while read != ["never.json", "fine.json"], let event = await events.next() {
                if case .read(let name) = event { read.insert(name) }
            }
            // Both were put off for an hour; now their writers finish.
            harness.spool.drop("never.json", bytes: Self.neverJSON[0].bytes)
            harness.spool.drop("fine.json", bytes: TestRequests.seedance(prompt: "a fox in the snow"))
            _ = try await harness.transport.attempts.collect(1)
            while let event = await events.next(), event != .rejected("never.json") {}
        }
        #expect(harness.spool.rejectedFiles["never.json"] == Self.neverJSON[0].bytes)
        #expect(harness.api.submitCount == 1, "the finished request went on at once")
        #expect(harness.spool.incomingFiles.isEmpty)
    }

    // MARK: - Moves that cannot succeed

    struct MoveFailure: SpoolDirectoryError, CustomStringConvertible {
        let isPermanent: Bool
        var description: String { isPermanent ? "File name too long" : "No space left on device" }
    }

    /// Drops `stuck.json` (invalid) whose move to `rejected/` fails, lets more than the retry delay
    /// pass, then rescans with a marker file that sorts after it; returns what the spool saw of
    /// `stuck.json` until the marker was rejected, and the log.
    private func stuckFile(permanent: Bool) async throws -> (events: [InMemorySpoolDirectory.Event], log: [LogRecording.Entry]) {
        let time = ManualTime(SystemClockForTests.now())
        let log = LogRecording()
        let harness = PipelineHarness(time: time, logger: log.logger())
        harness.spool.failMoves(of: "stuck.json", with: MoveFailure(isPermanent: permanent))
        let invalid = Array(#"{"model": "bytedance/dreamina-seedance-2-0-mini"}"#.utf8)
        let events = try await harness.run { harness in
            var seen: [InMemorySpoolDirectory.Event] = []
            var iterator = harness.spool.events.makeAsyncIterator()
            harness.spool.drop("stuck.json", bytes: invalid)
            while let event = await iterator.next() {
                seen.append(event)
                if event == .moveFailed("stuck.json") { break }
            }
            // Past the delay after which a move that may succeed later is tried again.
            time.advance(.seconds(31))
            harness.spool.place("zz-marker.json", bytes: invalid)
            harness.spool.overflowWatchers()
            while let event = await iterator.next() {
                seen.append(event)
                if event == .rejected("zz-marker.json") { break }
            }
            return seen
        }
        #expect(harness.spool.incomingFiles == ["stuck.json"])
        return (events.filter { $0 != .read("zz-marker.json") && $0 != .rejected("zz-marker.json") }, log.entries)
    }

    @Test func aPermanentMoveErrorIsLoggedOnceAndNotRetried() async throws {
        let (events, log) = try await stuckFile(permanent: true)
        #expect(events == [.read("stuck.json"), .moveFailed("stuck.json")], "read and tried once, not again")
        let reports = log.filter { $0["spool.file"] == "stuck.json" && $0.message.hasPrefix("Could not move a request file") }
        #expect(reports.count == 1)
        #expect(reports.first?.level == .error)
        #expect(reports.first?.message.contains("trying again cannot help") == true)
        #expect(reports.first?["event"] == "request.stuck")
        #expect(reports.first?["error"] == "File name too long")
    }

    /// The same scene with an error that may pass: the file is tried again after the delay, which
    /// shows the test above would see a retry if there were one.
    @Test func aTransientMoveErrorIsRetriedAfterTheDelay() async throws {
        let (events, log) = try await stuckFile(permanent: false)
        #expect(events == [.read("stuck.json"), .moveFailed("stuck.json"), .read("stuck.json"), .moveFailed("stuck.json")])
        let reports = log.filter { $0["spool.file"] == "stuck.json" && $0.message.hasPrefix("Could not move a request file") }
        #expect(reports.count == 2)
        #expect(reports.allSatisfy { $0.message.hasSuffix("will try again") })
    }
}
