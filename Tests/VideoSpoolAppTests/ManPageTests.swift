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

    /// The command tree as ArgumentParser itself reports it (`--experimental-dump-help`, ToolInfo v0),
    /// so a new subcommand or option cannot be missed: each subcommand needs a COMMANDS entry, and
    /// each of its displayed options a mention in that entry or under OPTIONS (options every command
    /// shares, such as `--config`, `--json`, `--help` and `--version`, are described once there).
    @Test func theManPageDescribesEveryOptionOfEverySubcommand() async throws {
        try await withTemporaryDirectory { root in
            let dump = try await ClientCommand.run(["--experimental-dump-help"], in: root)
            #expect(dump.status == 0, "\(dump.stderr)")
            let tool = try JSONDecoder().decode(ToolInfo.self, from: Data(dump.stdout.utf8))
            #expect(tool.serializationVersion == 0, "the dump's format changed; update ToolInfo below")
            let page = try String(contentsOfFile: packageRoot + "/man/videospool.8", encoding: .utf8)
            let manual = ManPage(page)
            let commands = (tool.command.subcommands ?? []).filter { $0.commandName != "help" }
            #expect(commands.count >= 12, "\(commands.map(\.commandName))")
            let entries = manual.commandEntries(names: commands.map(\.commandName))
            for command in commands {
                let entry = entries[command.commandName]
                #expect(entry != nil, "man/videospool.8 has no COMMANDS entry for '\(command.commandName)'")
                for option in command.displayedLongOptions {
                    let roff = ManPage.roff("--" + option)
                    let described = entry?.contains(roff) == true || manual.options.contains(roff)
                    #expect(described, "man/videospool.8 does not describe '\(command.commandName) --\(option)'")
                }
            }
            for option in tool.command.displayedLongOptions {
                #expect(manual.options.contains(ManPage.roff("--" + option)), "OPTIONS has no '--\(option)'")
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

/// The part of ArgumentParser's `ToolInfoV0` (`--experimental-dump-help`) these tests read.
private struct ToolInfo: Decodable {
    struct Command: Decodable {
        var commandName: String
        var subcommands: [Command]?
        var arguments: [Argument]?

        /// The long names of the options and flags `--help` shows.
        var displayedLongOptions: [String] {
            (arguments ?? []).filter { $0.kind != "positional" && $0.shouldDisplay }
                .compactMap { $0.names?.first { $0.kind == "long" }?.name }
        }
    }

    struct Argument: Decodable {
        struct Name: Decodable {
            var kind: String
            var name: String
        }

        var kind: String
        var shouldDisplay: Bool
        var names: [Name]?
    }

    var serializationVersion: Int
    var command: Command
}

/// `man/videospool.8` cut into the sections the tests look at.
private struct ManPage {
    let commands: String
    let options: String

    init(_ page: String) {
        // Led by a newline, so the first heading matches like the others.
        commands = "\n" + Self.section("COMMANDS", in: page)
        options = Self.section("OPTIONS", in: page)
    }

    /// How roff writes `text` in this page: every `-` escaped.
    static func roff(_ text: String) -> String {
        text.replacingOccurrences(of: "-", with: "\\-")
    }

    private static func section(_ name: String, in page: String) -> String {
        guard let start = page.range(of: "\n.SH \(name)\n") else { return "" }
        let rest = page[start.upperBound...]
        return String(rest[..<(rest.range(of: "\n.SH ")?.lowerBound ?? rest.endIndex)])
    }

    /// Each command's entry under COMMANDS: from its `.TP` heading (`.B name` or `.BI "name …`) to the
    /// next command's heading, so options described in a nested list stay in their command's entry.
    func commandEntries(names: [String]) -> [String: Substring] {
        var headings: [(name: String, at: String.Index)] = []
        for name in names {
            let roff = Self.roff(name)
            let heading =
                commands.range(of: "\n.TP\n.B \(roff)\n") ?? commands.range(of: "\n.TP\n.BI \"\(roff) ")
            if let heading { headings.append((name, heading.lowerBound)) }
        }
        headings.sort { $0.at < $1.at }
        var entries: [String: Substring] = [:]
        for (index, heading) in headings.enumerated() {
            let end = index + 1 < headings.count ? headings[index + 1].at : commands.endIndex
            entries[heading.name] = commands[heading.at..<end]
        }
        return entries
    }
}
