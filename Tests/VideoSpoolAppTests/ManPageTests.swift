import Foundation
import Testing

/// `man/videospool.8` is hand-written; this keeps it from falling behind the binary.
@Suite(.timeLimit(.minutes(1)))
struct ManPageTests {
    @Test func theManPageDescribesEverySubcommandTheBinaryLists() async throws {
        try await withTemporaryDirectory { root in
            let help = try await ClientCommand.run(["--help"], in: root)
            let section = try #require(help.stdout.components(separatedBy: "SUBCOMMANDS:").last)
            // Lines of the form "  name [(default)]   abstract"; continuation lines are indented further.
            let names = section.split(separator: "\n")
                .filter { $0.hasPrefix("  ") && !$0.hasPrefix("   ") }
                .compactMap { $0.split(separator: " ").first.map(String.init) }
                .filter { $0 != "See" }
            #expect(names.contains("submit") && names.contains("run"), "\(help.stdout)")
            let page = try String(contentsOfFile: packageRoot + "/man/videospool.8", encoding: .utf8)
            for name in names {
                let roff = name.replacingOccurrences(of: "-", with: "\\-")
                let described = page.contains("\n.B \(roff)\n") || page.contains("\n.BI \"\(roff) ")
                #expect(described, "man/videospool.8 has no COMMANDS entry for '\(name)'")
            }
        }
    }

    @Test func completionScriptsAreGeneratedForEveryShellMakeInstallInstalls() async throws {
        try await withTemporaryDirectory { root in
            for shell in ["bash", "zsh", "fish"] {
                let script = try await ClientCommand.run(["--generate-completion-script", shell], in: root)
                #expect(script.status == 0)
                #expect(script.stdout.contains("submit") && script.stdout.contains("validate"), "\(shell)")
            }
        }
    }
}
