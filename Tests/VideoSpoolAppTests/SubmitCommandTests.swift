import Foundation
import Testing
import VideoSpoolCore

/// `videospool submit` without a daemon: what it writes into `incoming/`, and what it refuses.
@Suite(.timeLimit(.minutes(1)))
struct SubmitCommandTests {
    static let model = "bytedance/dreamina-seedance-2-0-mini"

    /// A config whose spool is under `root`; `extra` is appended (YAML).
    static func configure(root: String, extra: String = "") throws -> String {
        let path = root + "/videospool.yaml"
        try write(
            """
            spool:
              directory: \(root)/spool
            state:
              directory: \(root)/state
            \(extra)
            """,
            to: path
        )
        for directory in ["incoming", "done", "failed", "rejected"] {
            try FileManager.default.createDirectory(atPath: root + "/spool/" + directory, withIntermediateDirectories: true)
        }
        return path
    }

    static func incoming(_ root: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: root + "/spool/incoming").sorted()
    }

    @Test func aRequestWithoutJobIDGetsTheDaemonsKindOfIDInsertedAndNothingElseChanges() async throws {
        try await withTemporaryDirectory { root in
            let config = try Self.configure(root: root)
            let request = """
                {
                  "model": "\(Self.model)",
                  "prompt": "A hedgehog at dawn",
                  "duration": "5",
                  "metadata": {"order": 17}
                }

                """
            try write(request, to: root + "/request.json")
            let run = try await ClientCommand.run(["submit", "--config", config, root + "/request.json"], in: root)
            #expect(run.status == 0, "\(run.stderr)")
            let id = run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(id.count == 26 && id.allSatisfy { $0.isNumber || $0.isUppercase }, "a ULID: \(id)")
            #expect(try Self.incoming(root) == ["\(id).json"], "no temporary file is left behind")
            let written = try String(contentsOfFile: root + "/spool/incoming/\(id).json", encoding: .utf8)
            #expect(written == request.replacingOccurrences(of: "{\n", with: "{\"job_id\": \"\(id)\", \n", options: [], range: request.range(of: "{\n")))
            #expect(try JSONParser().parse(written)["job_id"] == .string(id))
        }
    }

    @Test func aRequestWithItsOwnJobIDIsWrittenByteForByteAndASecondOneIsRefused() async throws {
        try await withTemporaryDirectory { root in
            let config = try Self.configure(root: root)
            let request = #"{"model": "\#(Self.model)", "prompt": "clip", "job_id": "order-17"}"#
            try write(request, to: root + "/request.json")
            let first = try await ClientCommand.run(["submit", "--config", config, root + "/request.json"], in: root)
            #expect(first.status == 0, "\(first.stderr)")
            #expect(first.stdout == "order-17\n")
            #expect(try String(contentsOfFile: root + "/spool/incoming/order-17.json", encoding: .utf8) == request)

            let again = try await ClientCommand.run(["submit", "--config", config, "--json", root + "/request.json"], in: root)
            #expect(again.status == 65)
            #expect(again.stdoutJSON?["errors"]?[0]?["code"] == .string("duplicate_job_id"), "\(again.stdout)")
            #expect(try Self.incoming(root) == ["order-17.json"])
        }
    }

    @Test func anInvalidRequestIsRefusedWithEveryProblemAndNothingIsWritten() async throws {
        try await withTemporaryDirectory { root in
            let config = try Self.configure(root: root)
            try write(#"{"model": "\#(Self.model)", "promt": "clip", "duration": 99}"#, to: root + "/bad.json")
            let run = try await ClientCommand.run(["submit", "--config", config, root + "/bad.json"], in: root)
            #expect(run.status == 65)
            #expect(run.stdout.isEmpty, "no job id for a refused request")
            #expect(run.stderr.contains("did you mean 'prompt'?"), "\(run.stderr)")
            #expect(run.stderr.contains("out_of_range"))
            #expect(run.stderr.contains("missing_field"))
            #expect(try Self.incoming(root).isEmpty)
        }
    }

    @Test func callbackURLsFollowTheConfiguredAddressPolicy() async throws {
        try await withTemporaryDirectory { root in
            let request = #"{"model": "\#(Self.model)", "prompt": "clip", "callback_url": "http://10.1.2.3/hook"}"#
            try write(request, to: root + "/request.json")
            let strict = try Self.configure(root: root)
            let refused = try await ClientCommand.run(["submit", "--config", strict, "--json", root + "/request.json"], in: root)
            #expect(refused.status == 65)
            #expect(refused.stdoutJSON?["errors"]?[0]?["code"] == .string("callback_not_allowed"))

            let open = try Self.configure(root: root, extra: "webhooks:\n  allowed_networks: [10.0.0.0/8]")
            let accepted = try await ClientCommand.run(["submit", "--config", open, "--json", root + "/request.json"], in: root)
            #expect(accepted.status == 0, "\(accepted.stdout)\(accepted.stderr)")
            let id = try #require(accepted.stdoutJSON?["job_id"]?.stringValue)
            #expect(accepted.stdoutJSON?["path"] == .string(root + "/spool/incoming/\(id).json"))
        }
    }

    @Test func standardInputIsReadAndCappedAtTheConfiguredSize() async throws {
        try await withTemporaryDirectory { root in
            let small = try Self.configure(root: root)
            let request = #"{"model": "\#(Self.model)", "prompt": "from a pipe", "job_id": "piped"}"#
            let run = try await ClientCommand.run(["submit", "--config", small, "-"], stdin: request, in: root)
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stdout == "piped\n")
            #expect(try Self.incoming(root) == ["piped.json"])

            let limited = root + "/limited.yaml"
            try write("spool:\n  directory: \(root)/spool\n  max_request_bytes: 100\nstate:\n  directory: \(root)/state\n", to: limited)
            let large = #"{"model": "\#(Self.model)", "prompt": "\#(String(repeating: "x", count: 500))"}"#
            let refused = try await ClientCommand.run(["submit", "--config", limited, "--json", "-"], stdin: large, in: root)
            #expect(refused.status == 65)
            #expect(refused.stdoutJSON?["errors"]?[0]?["code"] == .string("too_large"))
            #expect(try Self.incoming(root) == ["piped.json"])
        }
    }

    @Test func aMissingFileOrSpoolHasItsOwnExitStatus() async throws {
        try await withTemporaryDirectory { root in
            let config = try Self.configure(root: root)
            let missing = try await ClientCommand.run(["submit", "--config", config, root + "/nope.json"], in: root)
            #expect(missing.status == 66)
            #expect(missing.stderr.contains("nope.json"))

            try FileManager.default.removeItem(atPath: root + "/spool/incoming")
            try write(#"{"model": "\#(Self.model)", "prompt": "clip"}"#, to: root + "/request.json")
            let unwritable = try await ClientCommand.run(["submit", "--config", config, root + "/request.json"], in: root)
            #expect(unwritable.status == 73, "\(unwritable.stderr)")

            let badConfig = try await ClientCommand.run(["submit", "--config", root + "/absent.yaml", "-"], stdin: "{}", in: root)
            #expect(badConfig.status == 78)
        }
    }
}
