import ArgumentParser
import Foundation
import VideoSpoolApp
import VideoSpoolCore

struct Models: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the models requests may use, show one, or write their JSON Schemas.",
        discussion: """
            The built-in models plus the definitions in models.directory (default \
            /etc/videospool/models.d/*.json), as the daemon with this configuration would load them. \
            See docs/models.md for the definition format.
            """,
        subcommands: [ModelsList.self, ModelsShow.self, ModelsSchema.self],
        defaultSubcommand: ModelsList.self
    )
}

struct ModelsList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the loaded models and where each came from (built-in or a file)."
    )

    @OptionGroup var options: OperatorOptions

    func run() async throws {
        let settings = try await options.settings()
        if options.json {
            RequestReport.print(ModelReport.json(settings))
            return
        }
        print(ModelReport.table(settings.models, style: options.colors))
        let unlisted = settings.allowUnlistedModels
            ? "other models are let through with the generic checks (models.allow_unlisted: true)"
            : "other models are rejected (models.allow_unlisted: false)"
        print("\n\(settings.modelSummary); \(unlisted)")
    }
}

struct ModelsShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print one model's fields, what each accepts, its defaults and rules.",
        discussion: "With --json, the definition document itself, with where it came from. Exit status 64 for an unknown model."
    )

    @OptionGroup var options: OperatorOptions

    @Argument(help: ArgumentHelp("The model id, as in requests.", valueName: "model"))
    var model: String

    func run() async throws {
        let settings = try await options.settings()
        guard let entry = settings.models.entry(for: model) else {
            var message = "videospool models show: no model '\(model)'"
            let ids = settings.models.models.map(\.schema.model)
            if let suggestion = FieldSuggestion.nearest(to: model, among: ids) { message += "; did you mean '\(suggestion)'?" }
            Run.printError(message + " (`videospool models` lists them)")
            throw ExitCode(64)
        }
        if options.json {
            RequestReport.print(ModelReport.detailsJSON(entry))
        } else {
            print(ModelReport.details(entry, style: options.colors))
        }
    }
}

struct ModelsSchema: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print the JSON Schema of one model's requests, or of all (selected by 'model').",
        discussion: """
            For editors (JSON Schema 2020-12). With --output DIR, writes DIR/request.schema.json and \
            DIR/schemas/<model>.schema.json ('/' in a model id becomes '--'). With --built-in, only the \
            built-in models, without reading the configuration (how etc/videospool/ is generated).
            """
    )

    @OptionGroup var config: ConfigOptions

    @Flag(help: "Only the built-in models; the configuration is not read.")
    var builtIn = false

    @Option(help: ArgumentHelp("Write the schema files into this directory instead of printing.", valueName: "directory"))
    var output: String?

    @Argument(help: ArgumentHelp("One model's schema; without it, the combined schema.", valueName: "model"))
    var model: String?

    func validate() throws {
        if output != nil, model != nil { throw ValidationError("--output writes every model's schema; name no model.") }
    }

    func run() async throws {
        var catalog = ModelCatalog.builtIn
        if !builtIn {
            do {
                catalog = try await SettingsLoader.loadSettings(path: config.config).models
            } catch {
                Run.printError("configuration error: \(error)")
                throw ExitCode(ConfigurationError.exitStatus)
            }
        }
        if let output {
            for file in RequestJSONSchema.files(catalog) {
                let path = (output as NSString).appendingPathComponent(file.path)
                do {
                    try FileManager.default.createDirectory(
                        atPath: (path as NSString).deletingLastPathComponent,
                        withIntermediateDirectories: true
                    )
                    try Data(file.text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
                } catch {
                    Run.printError("videospool models schema: cannot write \(path): \(error.localizedDescription)")
                    throw ExitStatus.cannotCreate
                }
                print(path)
            }
            return
        }
        guard let model else {
            print(RequestJSONSchema.text(RequestJSONSchema.combined(catalog)), terminator: "")
            return
        }
        guard let schema = catalog[model] else {
            Run.printError("videospool models schema: no model '\(model)' (`videospool models` lists them)")
            throw ExitCode(64)
        }
        print(RequestJSONSchema.text(RequestJSONSchema.document(for: schema)), terminator: "")
    }
}
