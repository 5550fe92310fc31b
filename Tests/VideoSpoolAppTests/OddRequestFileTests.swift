#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import VideoSpoolApp
import VideoSpoolCore
import VideoSpoolFileSystem
import VideoSpoolSimulator
import VideoSpoolTesting

/// Request files a user can make that used to stay in `incoming/` or wait for nothing, against the
/// real daemon: names that are not UTF-8 or are up to `NAME_MAX` long are accepted or rejected with
/// a report like any other, and content that can never become JSON is rejected without waiting
/// for `spool.settle_seconds`.
@Suite(.timeLimit(.minutes(3)))
struct OddRequestFileTests {
    // MARK: - Bytes in names

    /// `directory/name` as the kernel takes it.
    static func path(_ directory: String, _ name: [UInt8]) -> [CChar] {
        (Array(directory.utf8) + [UInt8(ascii: "/")] + name + [0]).map { CChar(bitPattern: $0) }
    }

    /// Publishes `bytes` as `incoming/<name>` the documented way: a dot-name, then rename(2).
    static func publish(_ bytes: [UInt8], as name: [UInt8], into incoming: String) throws {
        let temporary = Array(".publishing.tmp".utf8)
        let descriptor = open(path(incoming, temporary), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
        guard descriptor >= 0 else { throw CorpusError("create: \(String(cString: strerror(errno)))") }
        let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
        guard written == bytes.count else { throw CorpusError("write failed") }
        guard rename(path(incoming, temporary), path(incoming, name)) == 0 else {
            throw CorpusError("rename to \(SpoolFileName.escape(name)): \(String(cString: strerror(errno)))")
        }
    }

    static func rawEntries(of directory: String) throws -> Set<[UInt8]> {
        guard let handle = opendir(directory) else { throw CorpusError("opendir \(directory)") }
        defer { closedir(handle) }
        var names: Set<[UInt8]> = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            if name != [UInt8(ascii: ".")], name != Array("..".utf8) { names.insert(name) }
        }
        return names
    }

    static func contents(named name: [UInt8], in directory: String) throws -> [UInt8] {
        let descriptor = open(path(directory, name), O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw CorpusError("open \(SpoolFileName.escape(name)) in \(directory)") }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
        return Array(buffer[..<max(count, 0)])
    }

    static func valid(jobID: String, callback: String) -> [UInt8] {
        Array(FaultRig.request(prompt: "odd name \(jobID)", jobID: jobID, callbacks: [callback]).utf8)
    }

    /// A `length`-byte name ending in `.json`, made of `filler`.
    static func longName(_ length: Int, _ filler: [UInt8]) -> [UInt8] {
        Array(Array(repeating: filler, count: length).joined().prefix(length - 5)) + Array(".json".utf8)
    }

    @Test func namesThatAreNotUTF8OrUpToNameMaxAreAcceptedOrRejectedWithAReport() async throws {
        try await withTemporaryDirectory { root in
            let simulator = FaultRig.simulator()
            try await simulator.withRunningServer { port in
                let rig = FaultRig(root: root, simulator: simulator, port: port)
                let hook = rig.hook("/webhooks/odd")
                let invalid = Array(#"{"model": "bytedance/dreamina-seedance-2-0-mini", "promt": "x", "callback_url": "\#(hook)"}"#.utf8)

                // Valid files: job id → name.
                let validFiles: [(jobID: String, name: [UInt8])] = [
                    ("odd-latin1", Array("caf".utf8) + [0xE9, UInt8(ascii: "-"), 0xFF, 0xFE] + Array(".json".utf8)),
                    ("odd-backslash", Array(#"back\slash.json"#.utf8)),
                    ("odd-long-245", Self.longName(245, Array("v".utf8))),
                    ("odd-long-255", Self.longName(255, Array("w".utf8))),
                    ("odd-long-255-bytes", Self.longName(255, [0xC3, 0xA9, 0xFF])),
                ]
                // Invalid files, rejected with a report (and a webhook, as they name a callback).
                let invalidNames: [[UInt8]] = [
                    Array("bad-".utf8) + [0xFF, 0xC3] + Array(".json".utf8),
                    Self.longName(255, [0xE9]),
                ] + [239, 240, 244, 245, 246, 250, 254, 255].map { Self.longName($0, Array("r".utf8)) }

                let rejectedFiles = try await rig.run { daemon -> [String: JSONValue] in
                    let incoming = daemon.spool.incoming
                    let webhooks = simulator.receiver.subscribe()
                    for file in validFiles { try Self.publish(Self.valid(jobID: file.jobID, callback: hook), as: file.name, into: incoming) }
                    for name in invalidNames { try Self.publish(invalid, as: name, into: incoming) }
                    // Every file ends in a webhook: completed for the valid, rejected for the invalid.
                    return try await withTimeout(.seconds(60), waitingFor: "a webhook for each of the odd files") {
                        var completed: [String: JSONValue] = [:]
                        var rejected: [String: JSONValue] = [:]
                        for await webhook in webhooks {
                            guard let data = webhook.json?["data"], let source = data["source_file"]?.stringValue else { continue }
                            switch webhook.json?["type"]?.stringValue {
                            case "video.generation.completed": completed[data["job_id"]?.stringValue ?? "?"] = data
                            case "video.generation.rejected": rejected[source] = data
                            default: Issue.record("unexpected webhook for \(source)")
                            }
                            if completed.count == validFiles.count, rejected.count == invalidNames.count { break }
                        }
                        for file in validFiles {
                            // source_file is the escaped name, which decodes to the exact bytes.
                            let source = completed[file.jobID]?["source_file"]?.stringValue
                            #expect(source == SpoolFileName.escape(file.name), "\(file.jobID)")
                            #expect(source.map(SpoolFileName.unescape) == file.name)
                        }
                        return rejected
                    }
                }
                #expect(Set(rejectedFiles.keys) == Set(invalidNames.map(SpoolFileName.escape)))
                #expect(rejectedFiles[#"bad-\xFF\xC3.json"#] != nil, "the documented escaping")

                // Nothing stays behind.
                let spool = root + "/spool"
                #expect(try Self.rawEntries(of: spool + "/incoming").isEmpty)
                for file in validFiles {
                    let outcome = try rig.outcome(file.jobID)
                    #expect(outcome.directory == "done")
                    #expect(outcome.document["data"]?["source_file"]?.stringValue == SpoolFileName.escape(file.name))
                }

                // Each invalid file sits in rejected/ under its own bytes, with its report beside it.
                let rejected = try Self.rawEntries(of: spool + "/rejected")
                #expect(rejected.count == invalidNames.count * 2)
                for name in invalidNames {
                    let escaped = SpoolFileName.escape(name)
                    #expect(rejected.contains(name), "rejected/\(escaped)")
                    #expect(try Self.contents(named: name, in: spool + "/rejected") == invalid)
                    let reportName = SpoolFileName.fitting(name, suffix: Array(".error.json".utf8))
                    #expect(reportName.count <= 255)
                    let report = try JSONParser().parse(try Self.contents(named: reportName, in: spool + "/rejected"))
                    #expect(report["file"]?.stringValue == escaped)
                    #expect(report["errors"]?.arrayValue?.contains { $0["code"]?.stringValue == "unknown_field" } == true)
                    // The log names it the same way, once.
                    let logged = rig.log.entries.filter { $0.message == "Request rejected" && $0["spool.file"] == escaped }
                    #expect(logged.count == 1, "one rejection logged for \(escaped)")
                }
                // No move was ever retried or refused.
                #expect(!rig.log.entries.contains { $0.message.hasPrefix("Could not move a request file") })
            }
        }
    }

    // MARK: - Content that can never become JSON

    @Test func contentThatCanNeverBecomeJSONIsRejectedWithoutWaitingForTheSettleTime() async throws {
        try await withTemporaryDirectory { root in
            let simulator = FaultRig.simulator()
            try await simulator.withRunningServer { port in
                // An hour: a file put off would be rejected long after the suite's time limit.
                let rig = FaultRig(root: root, simulator: simulator, port: port) { $0.settleSeconds = 3600 }
                let prefix = Array(#"{"model": "bytedance/dreamina-seedance-2-0-mini", "prompt": "#.utf8)
                let neverJSON: [String: [UInt8]] = [
                    "nan.json": prefix + Array("NaN}".utf8),
                    "utf16-bom.json": [0xFF, 0xFE] + Array(#"{"model": 1}"#.utf8).flatMap { byte -> [UInt8] in [byte, 0] },
                    "invalid-utf8.json": prefix + Array(#""caf"#.utf8) + [0xE9] + Array(#""}"#.utf8),
                ]
                let expectedCodes = ["nan.json": "invalid_json", "utf16-bom.json": "invalid_json", "invalid-utf8.json": "invalid_utf8"]
                let truncated = "still-being-written.json"
                try await rig.run { daemon in
                    let incoming = daemon.spool.incoming
                    // Written in place, so each file is as young as a file still being written.
                    try Self.writeFile(prefix + Array(#""a fox in the"#.utf8), to: incoming + "/" + truncated)
                    for (name, bytes) in neverJSON { try Self.writeFile(bytes, to: incoming + "/" + name) }
                    try await withTimeout(.seconds(30), waitingFor: "the rejection of the files that can never become JSON") {
                        for await entry in rig.log.subscribe() where entry.message == "Request rejected" {
                            let rejected = Set(rig.log.entries.filter { $0.message == "Request rejected" }.compactMap { $0["spool.file"] })
                            if rejected.isSuperset(of: neverJSON.keys) { break }
                        }
                    }
                    // The truncated file was looked at and put off, not rejected.
                    try await withTimeout(.seconds(30), waitingFor: "the truncated file to be put off") {
                        for await entry in rig.log.subscribe()
                        where entry.message.hasPrefix("Request file may still be being written") && entry["spool.file"] == truncated {
                            break
                        }
                    }
                }
                let entries = rig.log.entries
                for (name, code) in expectedCodes {
                    let logged = entries.filter { $0.message == "Request rejected" && $0["spool.file"] == name }
                    #expect(logged.count == 1)
                    #expect(logged.first?["error.code"] == code, "\(name)")
                    #expect(FileManager.default.fileExists(atPath: root + "/spool/rejected/" + name + ".error.json"))
                    #expect(
                        !entries.contains { $0.message.hasPrefix("Request file may still be being written") && $0["spool.file"] == name },
                        "\(name) was never put off"
                    )
                }
                #expect(!entries.contains { $0.message == "Request rejected" && $0["spool.file"] == truncated })
                #expect(FileManager.default.fileExists(atPath: root + "/spool/incoming/" + truncated))
            }
        }
    }

    /// Writes `bytes` in place (no temporary name, so the file is as young as one still being written).
    static func writeFile(_ bytes: [UInt8], to path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
        guard descriptor >= 0 else { throw CorpusError("create \(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        guard bytes.withUnsafeBytes({ Glibc.write(descriptor, $0.baseAddress, $0.count) }) == bytes.count else {
            throw CorpusError("write \(path)")
        }
    }
}
