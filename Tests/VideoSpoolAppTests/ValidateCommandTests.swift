import Foundation
import Testing
import VideoSpoolCore

/// `videospool validate`: the daemon's verdict on files, for people and for scripts.
@Suite(.timeLimit(.minutes(1)))
struct ValidateCommandTests {
    @Test func eachFileIsOKOrListsItsProblemsAndTheStatusSaysWhetherAllWereValid() async throws {
        try await withTemporaryDirectory { root in
            let config = try SubmitCommandTests.configure(root: root)
            try write(#"{"model": "\#(SubmitCommandTests.model)", "prompt": "clip"}"#, to: root + "/good.json")
            try write(#"{"model": "\#(SubmitCommandTests.model)", "promt": "clip", "seed": 1.5}"#, to: root + "/bad.json")

            let good = try await ClientCommand.run(["validate", "--config", config, root + "/good.json"], in: root)
            #expect(good.status == 0)
            #expect(good.stdout == "\(root)/good.json: OK\n", "no colour when stdout is not a terminal")

            let both = try await ClientCommand.run(["validate", "--config", config, root + "/good.json", root + "/bad.json"], in: root)
            #expect(both.status == 65)
            #expect(both.stdout.contains("bad.json: 3 problems"), "\(both.stdout)")
            #expect(both.stdout.contains("unknown_field"))
            #expect(both.stdout.contains("missing_field"))
            #expect(try SubmitCommandTests.incoming(root).isEmpty, "validate never submits")

            let json = try await ClientCommand.run(["validate", "--config", config, "--json", root + "/good.json", "-"], stdin: "[1]", in: root)
            #expect(json.status == 65)
            let document = try #require(json.stdoutJSON, "\(json.stdout)")
            #expect(document["valid"] == .bool(false))
            #expect(document["files"]?[0]?["valid"] == .bool(true))
            #expect(document["files"]?[1]?["file"] == .string("(stdin)"))
            #expect(document["files"]?[1]?["errors"]?[0]?["code"] == .string("not_an_object"))
        }
    }

    /// The bad-input corpus through the binary: the same codes as the daemon's intake.
    @Test func theBadInputCorpusGetsTheDaemonsCodes() async throws {
        try await withTemporaryDirectory { root in
            let config = try SubmitCommandTests.configure(root: root)
            let expectations = try BadInputCorpusTests.corpus()
            let paths = expectations.map { BadInputCorpusTests.fixtures + "/" + $0.file }
            let run = try await ClientCommand.run(["validate", "--config", config, "--json"] + paths, in: root)
            #expect(run.status == 65)
            let files = try #require(run.stdoutJSON?["files"]?.arrayValue, "\(run.stdout.prefix(500))")
            #expect(files.count == expectations.count)
            for (expectation, report) in zip(expectations, files) {
                let codes = (report["errors"]?.arrayValue ?? []).compactMap { $0["code"]?.stringValue }
                #expect(codes.contains(expectation.code), "\(expectation): got \(codes)")
            }
        }
    }

    @Test func everyCommandAndOptionHasHelp() async throws {
        try await withTemporaryDirectory { root in
            let top = try await ClientCommand.run(["--help"], in: root)
            #expect(top.stdout.contains("submit"))
            #expect(top.stdout.contains("validate"))
            for command in ["submit", "validate"] {
                let help = try await ClientCommand.run(["help", command], in: root)
                #expect(help.status == 0)
                // An option without help text is listed with nothing after it.
                let options = help.stdout.split(separator: "\n").filter { $0.hasPrefix("  -") || $0.hasPrefix("  <") }
                #expect(!options.isEmpty)
                for line in options where !line.contains("--help") && !line.contains("--version") {
                    #expect(line.split(separator: " ", omittingEmptySubsequences: true).count > 2, "\(command): '\(line)'")
                }
                #expect(help.stdout.contains("Exit status"), "\(command) documents its exit statuses")
            }
        }
    }
}
