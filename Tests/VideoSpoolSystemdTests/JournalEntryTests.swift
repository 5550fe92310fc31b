import Logging
import Testing
import VideoSpoolCore
import VideoSpoolSystemd

struct JournalEntryTests {
    @Test(arguments: [
        ("job.id", "JOB_ID"),
        ("generation.id", "GENERATION_ID"),
        ("http.status", "HTTP_STATUS"),
        ("callback.host", "CALLBACK_HOST"),
        ("ahc-request-id", "AHC_REQUEST_ID"),
        ("_private", "PRIVATE"),
        ("1st", "F_1ST"),
        ("émoji✨", "MOJI_"),
        ("", "FIELD"),
        (String(repeating: "a", count: 100), String(repeating: "A", count: 64)),
    ])
    func metadataKeysBecomeValidJournalFieldNames(key: String, field: String) {
        #expect(JournalEntry.fieldName(key) == field)
    }

    @Test func fieldNamesFollowJournaldRules() {
        for key in ["job.id", "_x", "9lives", "a-b.c d", "ümlaut", String(repeating: "k", count: 80)] {
            let name = JournalEntry.fieldName(key)
            #expect((1...64).contains(name.count))
            #expect(name.unicodeScalars.allSatisfy { ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" })
            #expect(!name.hasPrefix("_") && !(name.first?.isNumber ?? true))
        }
    }

    @Test(arguments: [
        (Logger.Level.trace, 7), (.debug, 7), (.info, 6), (.notice, 5), (.warning, 4), (.error, 3), (.critical, 2),
    ])
    func levelsMapToSyslogPriorities(level: Logger.Level, priority: Int) {
        #expect(JournalEntry.priority(level) == priority)
    }

    @Test func anEntryCarriesMessagePriorityIdentifierCodeLocationAndMetadata() {
        let fields = JournalEntry.fields(
            identifier: "videospool",
            level: .info,
            message: "Generation submitted",
            metadata: ["job.id": "order-17", "event": "job.submitted", "attempt": "1"],
            file: "VideoSpoolRuntime/SubmissionService.swift",
            function: "submit(_:)",
            line: 42
        )
        #expect(fields.contains("MESSAGE=Generation submitted"))
        #expect(fields.contains("PRIORITY=6"))
        #expect(fields.contains("SYSLOG_IDENTIFIER=videospool"))
        #expect(fields.contains("CODE_FILE=VideoSpoolRuntime/SubmissionService.swift"))
        #expect(fields.contains("CODE_LINE=42"))
        #expect(fields.contains("CODE_FUNC=submit(_:)"))
        #expect(fields.contains("JOB_ID=order-17"))
        #expect(fields.contains("ATTEMPT=1"))
        #expect(fields.contains("EVENT=job.submitted"))
        #expect(fields.contains("MESSAGE_ID=d62d26a398b942bb8dd78016c81b3491"))
    }

    @Test func metadataCannotOverrideTheJournalsOwnFields() {
        let fields = JournalEntry.fields(
            identifier: "videospool",
            level: .error,
            message: "real",
            metadata: ["message": "forged", "priority": "7", "message_id": "0000"],
            file: "f",
            function: "g",
            line: 1
        )
        #expect(fields.filter { $0.hasPrefix("MESSAGE=") } == ["MESSAGE=real"])
        #expect(fields.filter { $0.hasPrefix("PRIORITY=") } == ["PRIORITY=3"])
        #expect(!fields.contains { $0.hasPrefix("MESSAGE_ID=") })
    }

    @Test func everyLifecycleEventHasAUniqueMessageIDInTheCatalog() throws {
        let ids = Array(MessageID.byEvent.values)
        #expect(Set(ids).count == ids.count)
        for id in ids {
            #expect(id.count == 32 && id.allSatisfy { $0.isHexDigit && !$0.isUppercase })
        }
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        let catalog = try String(contentsOf: url.appendingPathComponent("systemd/videospool.catalog"), encoding: .utf8)
        for (event, id) in MessageID.byEvent {
            #expect(catalog.contains("-- \(id)\n"), "\(event) (\(id)) has no catalog entry")
        }
        for event in ["request.accepted", "request.rejected", "job.submitted", "job.completed", "job.failed",
            "webhook.delivered", "webhook.given_up", "submissions.paused", "submissions.resumed"]
        {
            #expect(MessageID.byEvent[event] != nil, "\(event) has no MESSAGE_ID")
        }
    }

    @Test func everyMessageIDIsListedInTheOperationsGuide() throws {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        let guide = try String(contentsOf: url.appendingPathComponent("docs/operations.md"), encoding: .utf8)
        for (event, id) in MessageID.byEvent {
            #expect(guide.contains("`\(id)`"), "\(event) (\(id)) is missing from the MESSAGE_ID table in docs/operations.md")
        }
    }

    @Test func nestedMetadataIsFlattened() {
        let fields = JournalEntry.fields(
            identifier: "v",
            level: .debug,
            message: "m",
            metadata: ["list": ["a", "b"], "map": ["k": "v"]],
            file: "f",
            function: "g",
            line: 1
        )
        #expect(fields.contains("LIST=[a, b]"))
        #expect(fields.contains("MAP=[k: v]"))
    }
}

import Foundation
