import Foundation
import Testing
import VideoSpoolApp
import VideoSpoolCore

/// An operator's model definition, as it would sit in /etc/videospool/models.d/.
enum OperatorModel {
    static let id = "acme/video-1"
    static let fileName = "acme--video-1.json"
    static let definition = """
        {
          "model": "acme/video-1",
          "title": "Acme Video 1",
          "required": ["model", "prompt"],
          "properties": {
            "prompt": {"type": "string", "nonEmpty": true},
            "resolution": {"type": "string", "enum": ["540p", "1080p"], "default": "540p"},
            "duration": {"type": "integer", "enum": [5, 10], "acceptsString": true}
          }
        }

        """

    static func request(tag: String, hook: String, model: String = id) -> String {
        #"{"model": "\#(model)", "prompt": "clip \#(tag)", "resolution": "1080p", "duration": "10", "job_id": "\#(tag)", "callback_url": "\#(hook)"}"#
    }
}

/// `videospool models`, and model definitions through the binary: what is loaded and from where,
/// `validate` working from them, and a broken or missing definition stopping start-up with 78.
@Suite(.timeLimit(.minutes(2)))
struct ModelsCommandTests {
    /// A configuration whose models.directory holds the operator's model.
    static func configure(root: String, allowUnlisted: Bool = false) throws -> (config: String, directory: String) {
        let directory = root + "/models.d"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try write(OperatorModel.definition, to: directory + "/" + OperatorModel.fileName)
        let config = try SubmitCommandTests.configure(
            root: root,
            extra: "models:\n  directory: \(directory)\n  allow_unlisted: \(allowUnlisted)\n"
        )
        return (config, directory)
    }

    @Test func modelsListsEveryLoadedModelAndWhereItCameFrom() async throws {
        try await withTemporaryDirectory { root in
            let (config, directory) = try Self.configure(root: root)
            let text = try await ClientCommand.run(["models", "--config", config], in: root)
            #expect(text.status == 0, "\(text.stderr)")
            let lines = text.stdout.split(separator: "\n").map(String.init)
            #expect(lines.first?.hasPrefix("MODEL") == true)
            for model in ModelCatalog.builtIn.models.map(\.schema.model) {
                #expect(lines.contains { $0.hasPrefix(model + " ") && $0.hasSuffix("built-in") }, "\(model): \(text.stdout)")
            }
            let file = directory + "/" + OperatorModel.fileName
            #expect(lines.contains { $0.hasPrefix(OperatorModel.id) && $0.contains("Acme Video 1") && $0.hasSuffix(file) })
            #expect(text.stdout.contains("5 built-in, 1 from files; other models are rejected (models.allow_unlisted: false)"))

            let json = try await ClientCommand.run(["models", "list", "--config", config, "--json"], in: root)
            let document = try #require(json.stdoutJSON, "\(json.stdout)")
            #expect(document["directory"] == .string(directory))
            #expect(document["allow_unlisted"] == .bool(false))
            let models = try #require(document["models"]?.arrayValue)
            #expect(models.count == 6)
            let acme = try #require(models.first { $0["model"] == .string(OperatorModel.id) })
            #expect(acme["source"] == .string("file"))
            #expect(acme["path"] == .string(file))
            #expect(models.filter { $0["source"] == .string("built-in") }.count == 5)
        }
    }

    @Test func modelsShowPrintsAModelsFieldsAndLimits() async throws {
        try await withTemporaryDirectory { root in
            let (config, _) = try Self.configure(root: root)
            let show = try await ClientCommand.run(["models", "show", "bytedance/seedance-2-0", "--config", config], in: root)
            #expect(show.status == 0, "\(show.stderr)")
            #expect(show.stdout.hasPrefix("bytedance/seedance-2-0 — Seedance 2.0 (built-in)"))
            let resolution = try #require(show.stdout.split(separator: "\n").first { $0.hasPrefix("resolution ") })
            #expect(resolution.contains("one of 480p, 720p, 1080p, 4k") && resolution.hasSuffix("\"720p\""))
            #expect(show.stdout.contains("integer 4 to 15 (or as a string"))
            #expect(show.stdout.contains("audio_without_reference"))

            let json = try await ClientCommand.run(["models", "show", OperatorModel.id, "--json", "--config", config], in: root)
            #expect(json.stdoutJSON?["definition"] == (try JSONParser().parse(OperatorModel.definition)))

            let unknown = try await ClientCommand.run(["models", "show", "bytedance/seedance-2.0", "--config", config], in: root)
            #expect(unknown.status == 64)
            #expect(unknown.stderr.contains("no model 'bytedance/seedance-2.0'; did you mean 'bytedance/seedance-2-0'?"))
        }
    }

    @Test func modelsSchemaPrintsOneModelsSchemaOrWritesThemAll() async throws {
        try await withTemporaryDirectory { root in
            let (config, _) = try Self.configure(root: root)
            let one = try await ClientCommand.run(["models", "schema", OperatorModel.id, "--config", config], in: root)
            #expect(one.status == 0, "\(one.stderr)")
            let schema = try #require(one.stdoutJSON)
            #expect(schema["properties"]?["model"]?["const"] == .string(OperatorModel.id))
            #expect(schema["properties"]?["resolution"]?["anyOf"]?[0]?["enum"] == .array([.string("540p"), .string("1080p")]))

            let combined = try await ClientCommand.run(["models", "schema", "--config", config], in: root)
            #expect(combined.stdoutJSON?["properties"]?["model"]?["enum"]?.arrayValue?.count == 6)

            let written = try await ClientCommand.run(["models", "schema", "--built-in", "--output", root + "/etc"], in: root)
            #expect(written.status == 0, "\(written.stderr)")
            for file in RequestJSONSchema.files(.builtIn) {
                #expect(try String(contentsOfFile: root + "/etc/" + file.path, encoding: .utf8) == file.text)
            }
        }
    }

    @Test func validateWorksFromTheOperatorsDefinitionsAndAllowUnlisted() async throws {
        try await withTemporaryDirectory { root in
            let (config, _) = try Self.configure(root: root)
            try write(OperatorModel.request(tag: "v", hook: "https://hooks.example.com/h"), to: root + "/acme.json")
            try write(#"{"model": "acme/video-1", "prompt": "p", "duration": 7}"#, to: root + "/acme-bad.json")
            try write(#"{"model": "openai/sora-2-t2v", "duration": 4}"#, to: root + "/unlisted.json")

            let good = try await ClientCommand.run(["validate", "--config", config, root + "/acme.json"], in: root)
            #expect(good.status == 0, "\(good.stdout)")
            let bad = try await ClientCommand.run(["validate", "--config", config, "--json", root + "/acme-bad.json"], in: root)
            #expect(bad.status == 65)
            #expect(bad.stdoutJSON?["files"]?[0]?["errors"]?[0]?["message"] == .string("'duration' must be one of 5, 10 for acme/video-1 (got 7)"))
            let refused = try await ClientCommand.run(["validate", "--config", config, "--json", root + "/unlisted.json"], in: root)
            #expect(refused.status == 65)
            #expect(refused.stdoutJSON?["files"]?[0]?["errors"]?[0]?["code"] == .string("unsupported_model"))

            let (open, _) = try Self.configure(root: root, allowUnlisted: true)
            let allowed = try await ClientCommand.run(["validate", "--config", open, root + "/unlisted.json"], in: root)
            #expect(allowed.status == 0, "\(allowed.stdout)")
        }
    }

    @Test func aBrokenDefinitionStopsStartUpNamingTheFileAndTheProblem() async throws {
        try await withTemporaryDirectory { root in
            let (config, directory) = try Self.configure(root: root)
            let broken = directory + "/broken.json"
            try write(#"{"model": "acme/broken", "properties": {"duration": {"type": "integer", "maximun": 10}}}"#, to: broken)
            let run = try await DaemonProcess.run(["run", "--config", config], in: root)
            #expect(run.status == 78, "\(run.output)")
            #expect(run.output.contains("models.directory: \(broken): properties.duration: unknown keyword 'maximun'; did you mean 'maximum'?"), "\(run.output)")
            for command in ["check-config", "validate"] {
                let arguments = command == "validate" ? [command, "--config", config, broken] : [command, "--config", config]
                let other = try await ClientCommand.run(arguments, in: root)
                #expect(other.status == 78, "\(command): \(other.stderr)")
                #expect(other.stderr.contains(broken), "\(command): \(other.stderr)")
            }
        }
    }

    @Test func aNamedModelsDirectoryMustExistButTheDefaultNeedNot() async throws {
        try await withTemporaryDirectory { root in
            let config = try SubmitCommandTests.configure(root: root, extra: "models:\n  directory: \(root)/missing\n")
            let missing = try await ClientCommand.run(["check-config", "--config", config], in: root)
            #expect(missing.status == 78)
            #expect(missing.stderr.contains("models.directory: \(root)/missing does not exist"), "\(missing.stderr)")
            let settings = try await SettingsLoader.loadSettings(path: SubmitCommandTests.configure(root: root))
            #expect(settings.modelsDirectory == DaemonSettings.defaultModelsDirectory)
            if !FileManager.default.fileExists(atPath: DaemonSettings.defaultModelsDirectory) {
                #expect(settings.models.count == ModelCatalog.builtIn.count)
            }
        }
    }

    @Test func aDefinitionThatIsNotARegularFileOrTooLargeIsRefusedUnread() async throws {
        try await withTemporaryDirectory { root in
            let (config, directory) = try Self.configure(root: root)
            let fifo = directory + "/pipe.json"
            #expect(mkfifo(fifo, 0o600) == 0)
            var error = await #expect(throws: ConfigurationError.self) { try await SettingsLoader.loadSettings(path: config) }
            #expect(error?.message == "\(fifo): is not a regular file")
            try FileManager.default.removeItem(atPath: fifo)
            let large = directory + "/large.json"
            try write(#"{"model": "acme/large", "description": "\#(String(repeating: "x", count: ModelDirectory.maximumFileBytes))"}"#, to: large)
            error = await #expect(throws: ConfigurationError.self) { try await SettingsLoader.loadSettings(path: config) }
            #expect(error?.message.hasPrefix("\(large): is larger than") == true, "\(String(describing: error))")
        }
    }

    @Test func twoFilesDefiningOneModelAreABrokenDirectory() async throws {
        try await withTemporaryDirectory { root in
            let (config, directory) = try Self.configure(root: root)
            try write(OperatorModel.definition, to: directory + "/copy.json")
            // Editors' leftovers are not definitions.
            try write("not json", to: directory + "/.acme.json.swp")
            try write("not json", to: directory + "/README")
            let error = await #expect(throws: ConfigurationError.self) { try await SettingsLoader.loadSettings(path: config) }
            #expect(error?.key == "models.directory")
            #expect(error?.message.contains(directory + "/copy.json") == true, "\(String(describing: error))")
            #expect(error?.message.contains("already defined by \(directory)/\(OperatorModel.fileName)") == true)
        }
    }
}
