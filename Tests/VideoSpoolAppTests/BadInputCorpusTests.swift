#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import Testing
import VideoSpoolApp
import VideoSpoolCore
import VideoSpoolFileSystem
import VideoSpoolSimulator
import VideoSpoolTesting

/// The bad-input corpus (`Tests/Fixtures/bad-requests/`, expectations in `expected.tsv`) and the
/// file-system cases that can only be made at run time, dropped into one real daemon (file system
/// spool, SQLite store, AsyncHTTPClient) that runs against the simulator on loopback. Every bad file
/// must end in `rejected/` with its code explained in `<name>.error.json` and in the log, nothing bad
/// may reach the API, and valid requests dropped before, among and after them must still complete.
@Suite(.timeLimit(.minutes(3)))
struct BadInputCorpusTests {
    static let secret = try! WebhookSecret(parsing: testSecretText)
    static let fixtures = packageRoot + "/Tests/Fixtures/bad-requests"
    static let model = "bytedance/dreamina-seedance-2-0-mini"

    /// One line of `expected.tsv`, or one run-time case: the file name, the code that must be among
    /// its errors and, when given, the field that code is reported for.
    struct Expectation: Sendable, CustomStringConvertible {
        let file: String
        let code: String
        let field: String?

        var description: String { "\(file) → \(code)\(field.map { " (\($0))" } ?? "")" }
    }

    static func corpus() throws -> [Expectation] {
        let table = try String(contentsOfFile: fixtures + "/expected.tsv", encoding: .utf8)
        return try table.split(separator: "\n").compactMap { line -> Expectation? in
            if line.hasPrefix("#") || line.allSatisfy(\.isWhitespace) { return nil }
            let columns = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard columns.count == 3 else {
                throw CorpusError("expected.tsv: '\(line)' does not have three tab-separated columns")
            }
            return Expectation(file: columns[0], code: columns[1], field: columns[2] == "-" ? nil : columns[2])
        }
    }

    static func bytes(at path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    // MARK: - The corpus against the validator alone

    @Test func theCorpusCoversEveryFileWithAnExpectationAndHasAtLeastFortyFiles() throws {
        let expectations = try Self.corpus()
        #expect(expectations.count >= 40)
        let listed = Set(expectations.map(\.file))
        #expect(listed.count == expectations.count, "expected.tsv names no file twice")
        let present = Set(try FileManager.default.contentsOfDirectory(atPath: Self.fixtures)).subtracting(["expected.tsv"])
        #expect(present == listed, "every fixture has exactly one line in expected.tsv")
    }

    @Test func everyCorpusFileIsRejectedByTheValidatorWithItsExpectedCode() throws {
        // The daemon's validator in the daemon test below: loopback callbacks allowed, nothing else private.
        let validator = RequestValidator(options: .init(addressPolicy: Self.addressPolicy))
        for expectation in try Self.corpus() {
            let outcome = validator.validate(try Self.bytes(at: Self.fixtures + "/" + expectation.file))
            guard case .invalid(let rejected) = outcome else {
                Issue.record("\(expectation.file) was accepted by the validator")
                continue
            }
            #expect(
                rejected.issues.contains { $0.code.description == expectation.code && $0.field == expectation.field },
                "\(expectation): got \(rejected.issues.map { "\($0.code) \($0.field ?? "-")" })"
            )
            // No corpus file has a usable callback URL: its rejection webhook would leave the machine.
            #expect(rejected.callbackURLs.isEmpty, "\(expectation.file) would be announced to \(rejected.callbackURLs)")
        }
    }

    // MARK: - The daemon

    static let addressPolicy = AddressPolicy(allowedNetworks: [CIDR("127.0.0.0/8")!])

    static func settings(root: String, port: Int) -> DaemonSettings {
        var settings = DaemonSettings()
        settings.spoolDirectory = root + "/spool"
        settings.stateDirectory = root + "/state"
        settings.apiBaseURL = "http://127.0.0.1:\(port)"
        settings.pollFirstDelaySeconds = 0.05
        settings.pollIntervalSeconds = 0.05
        // Callbacks to the receiver on loopback, and only there: private and link-local addresses
        // in the corpus stay refused (`callback_not_allowed`).
        settings.allowPrivateNetworks = false
        settings.allowedNetworks = [CIDR("127.0.0.0/8")!]
        settings.webhookRetryScheduleSeconds = [0.05, 0.05, 0.05]
        settings.pauseSeconds = 0.05
        // Incomplete and hard-linked files are rejected this long after they were last written. Long
        // enough that the test reliably completes the still-being-written file before it is due, even
        // when the whole suite runs on two busy cores.
        settings.settleSeconds = 5
        // Larger than the biggest corpus file (100,000 '[' and 17 KiB of metadata must reach the
        // parser and the validator), far smaller than the sparse too-large file.
        settings.maximumRequestBytes = 256 * 1024
        return settings
    }

    static func valid(_ jobID: String?, prompt: String, callback: String) -> String {
        let id = jobID.map { #", "job_id": "\#($0)""# } ?? ""
        return #"{"model": "\#(model)", "prompt": "\#(prompt)", "duration": 5, "callback_url": "\#(callback)"\#(id)}"#
    }

    /// Publishes a regular file the documented way: a dot-name in `incoming/`, then `rename(2)`.
    static func publish(_ bytes: [UInt8], as name: String, into incoming: String) throws {
        let temporary = incoming + "/." + name + ".tmp"
        try Data(bytes).write(to: URL(fileURLWithPath: temporary))
        try posix(rename(temporary, incoming + "/" + name), "rename", name)
    }

    static func posix(_ result: Int32, _ call: String, _ path: String) throws {
        if result != 0 { throw CorpusError("\(call) \(path): \(String(cString: strerror(errno)))") }
    }

    static func fileType(_ path: String) -> mode_t? {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_mode & S_IFMT : nil
    }

    @Test func everyBadInputIsRejectedWithItsCodeAndLoggedWhileValidRequestsStillComplete() async throws {
        let corpus = try Self.corpus()
        try #require(corpus.count >= 40)
        let log = LogRecording()
        try await withTemporaryDirectory { root in
            let simulator = Simulator(
                configuration: SimulatorConfiguration(
                    apiKey: "test-key",
                    queuedTime: .milliseconds(20),
                    generationTime: .fixed(.milliseconds(100)),
                    // Served on loopback, so the daemon stores real videos (results.download is on).
                    videoBaseURL: nil,
                    webhookSecret: Self.secret
                ),
                logger: Logger(label: "simulator", factory: { _ in SwiftLogNoOpLogHandler() })
            )
            try await simulator.withRunningServer { port in
                let settings = Self.settings(root: root, port: port)
                let spool = settings.spoolDirectory
                let hook = "http://127.0.0.1:\(port)/webhooks/corpus"
                let outside = root + "/outside"
                try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)

                let shadow = "/etc/shadow"
                var shadowBefore = stat()
                let shadowExists = stat(shadow, &shadowBefore) == 0
                let internalTarget = spool + "/spool-internal-target.json"
                let internalTargetBytes = Array(Self.valid("corpus-symlink-target", prompt: "target", callback: hook).utf8)
                let hardLinkOrigin = outside + "/hard-linked.json"
                let hardLinkBytes = Array(Self.valid("corpus-hard-linked", prompt: "linked", callback: hook).utf8)
                let largeSize = 8 * 1024 * 1024
                let twice = Array(Self.valid(nil, prompt: "dropped twice", callback: hook).utf8)

                let daemon = try Daemon.make(
                    settings: settings,
                    credentials: Credentials(apiKey: "test-key", webhookSecret: Self.secret),
                    logger: log.logger()
                )
                let outcome = try await daemon.run { daemon -> DaemonOutcome in
                    let incoming = daemon.spool.incoming
                    // The corpus plus the run-time cases: every one must be rejected with its code.
                    var expected = corpus
                    // Requests that must be accepted and complete, by job_id (their webhooks say so).
                    var validJobIDs: [String] = []
                    func publish(_ text: String, as name: String) throws {
                        try Self.publish(Array(text.utf8), as: name, into: incoming)
                    }

                    // A valid request before any bad one.
                    try publish(Self.valid("corpus-before", prompt: "before", callback: hook), as: "valid-before.json")
                    validJobIDs.append("corpus-before")

                    // The first half of the corpus, then a valid request among the bad ones.
                    let half = corpus.count / 2
                    for expectation in corpus[..<half] {
                        try Self.publish(
                            try Self.bytes(at: Self.fixtures + "/" + expectation.file),
                            as: expectation.file,
                            into: incoming
                        )
                    }
                    try publish(Self.valid("corpus-middle", prompt: "middle", callback: hook), as: "valid-middle.json")
                    validJobIDs.append("corpus-middle")

                    // Still being written: half a document written in place, the descriptor kept open.
                    // Once the daemon has looked at it (and put it off), it is completed: it must be
                    // accepted, not rejected.
                    let growing = "still-being-written.json"
                    let growingText = Array(Self.valid("corpus-still-written", prompt: "written slowly", callback: hook).utf8)
                    validJobIDs.append("corpus-still-written")
                    let descriptor = Glibc.open(incoming + "/" + growing, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
                    try #require(descriptor >= 0)
                    let firstHalf = growingText.count / 2
                    #expect(Glibc.write(descriptor, growingText, firstHalf) == firstHalf)
                    try await log.wait(for: "the daemon to put off \(growing)") { entries in
                        entries.contains {
                            $0.message.description.hasPrefix("Request file may still be being written")
                                && $0.metadata["spool.file"]?.description == growing
                        }
                    }
                    let rest = Array(growingText[firstHalf...])
                    #expect(Glibc.write(descriptor, rest, rest.count) == rest.count)
                    Glibc.close(descriptor)

                    // A truncated file written in place and never completed.
                    let abandoned = "abandoned-while-written.json"
                    let abandonedDescriptor = Glibc.open(incoming + "/" + abandoned, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
                    try #require(abandonedDescriptor >= 0)
                    let abandonedText = Array(#"{"model": "\#(Self.model)", "prompt": "never fin"#.utf8)
                    #expect(Glibc.write(abandonedDescriptor, abandonedText, abandonedText.count) == abandonedText.count)
                    Glibc.close(abandonedDescriptor)
                    expected.append(Expectation(file: abandoned, code: "truncated_json", field: nil))

                    // The same bytes without job_id under two names: the second is a duplicate.
                    try Self.publish(twice, as: "dropped-twice-first.json", into: incoming)
                    try await log.wait(for: "dropped-twice-first.json to be accepted") {
                        $0.contains { $0.isAcceptance(of: "dropped-twice-first.json") }
                    }
                    try Self.publish(twice, as: "dropped-twice-second.json", into: incoming)
                    expected.append(Expectation(file: "dropped-twice-second.json", code: "duplicate_request", field: nil))

                    // Two different files with the same job_id: the second is a duplicate.
                    try publish(Self.valid("corpus-same-id", prompt: "first of the id", callback: hook), as: "same-job-id-first.json")
                    validJobIDs.append("corpus-same-id")
                    try await log.wait(for: "same-job-id-first.json to be accepted") {
                        $0.contains { $0.isAcceptance(of: "same-job-id-first.json") }
                    }
                    try publish(Self.valid("corpus-same-id", prompt: "second of the id", callback: hook), as: "same-job-id-second.json")
                    expected.append(Expectation(file: "same-job-id-second.json", code: "duplicate_job_id", field: "job_id"))

                    // The second half of the corpus.
                    for expectation in corpus[half...] {
                        try Self.publish(
                            try Self.bytes(at: Self.fixtures + "/" + expectation.file),
                            as: expectation.file,
                            into: incoming
                        )
                    }

                    // Symlinks: to /etc/shadow, and to a request file inside the spool.
                    try Self.posix(symlink(shadow, incoming + "/shadow-symlink.json"), "symlink", "shadow-symlink.json")
                    expected.append(Expectation(file: "shadow-symlink.json", code: "symlink", field: nil))
                    try Data(internalTargetBytes).write(to: URL(fileURLWithPath: internalTarget))
                    try Self.posix(symlink(internalTarget, incoming + "/internal-symlink.json"), "symlink", "internal-symlink.json")
                    expected.append(Expectation(file: "internal-symlink.json", code: "symlink", field: nil))

                    // A hard link to a (valid) file that stays outside the spool.
                    try Data(hardLinkBytes).write(to: URL(fileURLWithPath: hardLinkOrigin))
                    try Self.posix(link(hardLinkOrigin, incoming + "/hard-link.json"), "link", "hard-link.json")
                    expected.append(Expectation(file: "hard-link.json", code: "hard_link", field: nil))

                    // A FIFO (opening it must not block the daemon) and a directory named like a request.
                    try Self.posix(mkfifo(incoming + "/fifo.json", 0o640), "mkfifo", "fifo.json")
                    expected.append(Expectation(file: "fifo.json", code: "not_regular_file", field: nil))
                    try Self.posix(mkdir(incoming + "/x.json", 0o750), "mkdir", "x.json")
                    expected.append(Expectation(file: "x.json", code: "not_regular_file", field: nil))

                    // A sparse 8 MiB file: rejected from its size, without being read.
                    let largeTemporary = incoming + "/.too-large.json.tmp"
                    let large = Glibc.open(largeTemporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
                    try #require(large >= 0)
                    let prefix = Array(#"{"model": "\#(Self.model)", "prompt": ""#.utf8)
                    #expect(Glibc.write(large, prefix, prefix.count) == prefix.count)
                    try Self.posix(ftruncate(large, off_t(largeSize)), "ftruncate", largeTemporary)
                    Glibc.close(large)
                    try Self.posix(rename(largeTemporary, incoming + "/too-large.json"), "rename", "too-large.json")
                    expected.append(Expectation(file: "too-large.json", code: "too_large", field: nil))

                    // Every bad file has been rejected once the log says so for each (the entry is
                    // written after the file and its report have moved).
                    let names = expected.map(\.file)
                    try await log.wait(for: "a rejection of each of the \(names.count) bad files") { entries in
                        let rejected = Set(entries.filter(\.isRejection).compactMap { $0.metadata["spool.file"]?.description })
                        return rejected.isSuperset(of: names)
                    }

                    // The daemon keeps running: a valid request after all of them still completes.
                    try publish(Self.valid("corpus-after", prompt: "after", callback: hook), as: "valid-after.json")
                    validJobIDs.append("corpus-after")
                    let completions = Set(validJobIDs)
                    let duplicates: Set = ["dropped-twice-second.json", "same-job-id-second.json"]
                    var completed: [String: WebhookReceiver.Received] = [:]
                    var rejections: [String: WebhookReceiver.Received] = [:]
                    for await item in simulator.receiver.subscribe() {
                        let data = item.json?["data"]
                        switch item.json?["type"]?.stringValue {
                        case "video.generation.completed":
                            // The job_id of the dropped-twice file is assigned (a ULID): use the file name.
                            let id = data?["source_file"]?.stringValue == "dropped-twice-first.json"
                                ? "dropped-twice-first.json" : data?["job_id"]?.stringValue ?? "?"
                            completed[id] = item
                        case "video.generation.rejected":
                            rejections[data?["source_file"]?.stringValue ?? "?"] = item
                        default:
                            Issue.record("unexpected webhook \(String(decoding: item.body, as: UTF8.self))")
                        }
                        if Set(completed.keys) == completions.union(["dropped-twice-first.json"]),
                            Set(rejections.keys) == duplicates
                        {
                            break
                        }
                    }
                    return DaemonOutcome(
                        expected: expected,
                        validJobIDs: validJobIDs,
                        completed: completed,
                        rejections: rejections
                    )
                }
                let expected = outcome.expected
                let validJobIDs = outcome.validJobIDs
                let received = outcome

                // Valid requests before, among and after the bad ones all completed, with good signatures.
                #expect(Set(received.completed.keys) == Set(validJobIDs + ["dropped-twice-first.json"]))
                #expect(received.completed.values.allSatisfy { $0.signatureValid == true })
                #expect(received.rejections.values.allSatisfy { $0.signatureValid == true })
                #expect(simulator.receiver.received.count == received.completed.count + received.rejections.count)
                // Nothing invalid was submitted: exactly the valid ones reached the API, once each.
                #expect(simulator.api.statistics.acceptedSubmissions == validJobIDs.count + 1)
                #expect(simulator.api.statistics.submissions == validJobIDs.count + 1)
                #expect(simulator.api.statistics.rejectedBodies == 0)

                // incoming/ is empty: every file was either accepted or moved to rejected/.
                #expect(try FileManager.default.contentsOfDirectory(atPath: spool + "/incoming") == [])

                let entries = log.entries
                for expectation in expected {
                    let name = expectation.file
                    #expect(Self.fileType(spool + "/rejected/" + name) != nil, "rejected/\(name) exists")
                    #expect(Self.fileType(spool + "/incoming/" + name) == nil, "incoming/\(name) is gone")
                    let report: JSONValue
                    do {
                        report = try JSONParser().parse(try Self.bytes(at: spool + "/rejected/" + name + ".error.json"))
                    } catch {
                        Issue.record("rejected/\(name).error.json: \(error)")
                        continue
                    }
                    #expect(report["file"]?.stringValue == name)
                    #expect(report["rejected_at"]?.stringValue != nil)
                    let errors = report["errors"]?.arrayValue ?? []
                    let codes = errors.map { "\($0["code"]?.stringValue ?? "?") \($0["field"]?.stringValue ?? "-")" }
                    #expect(
                        errors.contains {
                            $0["code"]?.stringValue == expectation.code && $0["field"]?.stringValue == expectation.field
                        },
                        "\(expectation): rejected with \(codes)"
                    )
                    #expect(errors.allSatisfy { ($0["message"]?.stringValue ?? "").isEmpty == false })
                    // The log names the file and the (first) code of its report.
                    let logged = entries.filter { $0.isRejection && $0.metadata["spool.file"]?.description == name }
                    #expect(logged.count == 1, "one 'Request rejected' entry for \(name)")
                    #expect(
                        logged.first?.metadata["error.code"]?.description == errors.first?["code"]?.stringValue,
                        "\(name): logged \(logged.first?.metadata["error.code"]?.description ?? "nothing")"
                    )
                    if errors.count == 1 {
                        #expect(logged.first?.metadata["error.code"]?.description == expectation.code)
                    }
                }
                // Webhooks went only to the receiver on loopback.
                let hosts = Set(entries.compactMap { $0.metadata["callback.host"]?.description })
                #expect(hosts.isSubset(of: ["127.0.0.1"]), "webhook attempts to \(hosts)")
                // Nothing else was rejected, and the completed one was never put off for good.
                let rejectedNames = Set(entries.filter(\.isRejection).compactMap { $0.metadata["spool.file"]?.description })
                #expect(rejectedNames == Set(expected.map(\.file)))
                #expect(entries.contains { $0.isAcceptance(of: "still-being-written.json") })

                // The symlinks themselves moved; their targets are untouched.
                #expect(Self.fileType(spool + "/rejected/shadow-symlink.json") == S_IFLNK)
                #expect(
                    (try? FileManager.default.destinationOfSymbolicLink(atPath: spool + "/rejected/shadow-symlink.json"))
                        == shadow
                )
                if shadowExists {
                    var shadowAfter = stat()
                    #expect(stat(shadow, &shadowAfter) == 0)
                    #expect(shadowAfter.st_ino == shadowBefore.st_ino && shadowAfter.st_size == shadowBefore.st_size)
                    #expect(shadowAfter.st_mtim.tv_sec == shadowBefore.st_mtim.tv_sec)
                    #expect(shadowAfter.st_mtim.tv_nsec == shadowBefore.st_mtim.tv_nsec)
                }
                #expect(Self.fileType(spool + "/rejected/internal-symlink.json") == S_IFLNK)
                #expect(try Self.bytes(at: internalTarget) == internalTargetBytes)

                // The hard link moved; the other link stays where it was, with both names intact.
                var origin = stat()
                #expect(stat(hardLinkOrigin, &origin) == 0 && origin.st_nlink == 2)
                #expect(try Self.bytes(at: hardLinkOrigin) == hardLinkBytes)

                // The FIFO and the directory moved as they were.
                #expect(Self.fileType(spool + "/rejected/fifo.json") == S_IFIFO)
                #expect(Self.fileType(spool + "/rejected/x.json") == S_IFDIR)

                // The too-large file moved unread: still 8 MiB, still sparse.
                var large = stat()
                #expect(stat(spool + "/rejected/too-large.json", &large) == 0)
                #expect(Int(large.st_size) == largeSize)
                #expect(Int(large.st_blocks) * 512 < largeSize / 8, "the file is still sparse")
            }
        }
    }
}

struct DaemonOutcome: Sendable {
    var expected: [BadInputCorpusTests.Expectation]
    var validJobIDs: [String]
    var completed: [String: WebhookReceiver.Received]
    var rejections: [String: WebhookReceiver.Received]
}

struct CorpusError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension LogRecording.Entry {
    var isRejection: Bool { message.description == "Request rejected" }

    func isAcceptance(of name: String) -> Bool {
        message.description == "Request accepted" && metadata["spool.file"]?.description == name
    }
}
