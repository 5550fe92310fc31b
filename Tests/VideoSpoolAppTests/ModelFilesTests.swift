import Foundation
import Testing
import VideoSpoolApp
import VideoSpoolCore

/// The files derived from model definitions stay derived: the built-ins embedded in the binary are
/// the files in `models/`, the committed JSON Schemas are what the definitions generate, and the
/// generator's drafts of the reference file (a copy in Tests/Fixtures) all load.
@Suite(.timeLimit(.minutes(2)))
struct ModelFilesTests {
    static let definitions = packageRoot + "/models"
    static let reference = packageRoot + "/Tests/Fixtures/aimlapi-video-models.txt"
    static let generator = packageRoot + "/scripts/models-from-reference.py"

    @Test func theEmbeddedDefinitionsAreExactlyTheFilesInModels() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.definitions).filter { $0.hasSuffix(".json") }.sorted()
        #expect(names == BuiltInModelDefinitions.files.map(\.name).sorted(), "run `make models` after changing models/")
        for file in BuiltInModelDefinitions.files {
            let text = try String(contentsOfFile: Self.definitions + "/" + file.name, encoding: .utf8)
            #expect(text == file.text, "\(file.name) differs from its embedded copy; run `make models`")
        }
    }

    @Test func eachBuiltInFileIsNamedAfterItsModelAndLoadsAsAModelsDirectoryFile() throws {
        let catalog = try ModelDirectory.load(Self.definitions, required: true, base: ModelCatalog())
        #expect(catalog.count == ModelCatalog.builtIn.count)
        for entry in catalog.models {
            #expect(entry.source == .file(Self.definitions + "/" + RequestJSONSchema.fileStem(for: entry.schema.model) + ".json"))
            #expect(ModelCatalog.builtIn[entry.schema.model]?.fields == entry.schema.fields)
        }
    }

    @Test func theCommittedSchemasAreWhatTheDefinitionsGenerate() throws {
        let generated = RequestJSONSchema.files(.builtIn)
        for file in generated {
            let committed = try String(contentsOfFile: packageRoot + "/etc/videospool/" + file.path, encoding: .utf8)
            #expect(committed == file.text, "etc/videospool/\(file.path) is stale; run `make models`")
        }
        let committed = try FileManager.default.contentsOfDirectory(atPath: packageRoot + "/etc/videospool/schemas")
        #expect(Set(committed.map { "schemas/" + $0 }) == Set(generated.map(\.path)).subtracting(["request.schema.json"]))
    }

    /// The full example in docs/models.md is a definition that loads and does what the text says.
    @Test func theDocumentedExampleLoadsAndValidates() throws {
        let page = try String(contentsOfFile: packageRoot + "/docs/models.md", encoding: .utf8)
        let section = try #require(page.components(separatedBy: "### A full example").last)
        let block = try #require(section.components(separatedBy: "```json\n").dropFirst().first?.components(separatedBy: "```").first)
        let example = try ModelSchema(definition: Array(block.utf8))
        var catalog = ModelCatalog.builtIn
        try catalog.add(example, source: .file("docs/models.md"))
        let validator = RequestValidator(options: .init(models: catalog))
        let good = #"{"model": "acme/video-2", "image_url": "https://e.com/a.png", "prompt": "waves", "duration": "10", "mode": "PRO"}"#
        guard case .valid(let request) = validator.validate(Array(good.utf8)) else {
            Issue.record("the example rejects a good request")
            return
        }
        #expect(request.upstreamBody["duration"] == .int(10))
        #expect(request.upstreamBody["mode"] == .string("pro"))
        let bad = #"{"model": "acme/video-2", "image_url": "https://e.com/a.png", "prompt": "a", "multi_prompt": ["b"]}"#
        guard case .invalid(let rejected) = validator.validate(Array(bad.utf8)) else {
            Issue.record("the example accepts prompt and multi_prompt together")
            return
        }
        #expect(rejected.issues.map(\.message) == ["give prompt or multi_prompt, not both"])
    }

    // MARK: - The generator

    /// The model ids of the reference's /v2/video/generations lines, each with its first line.
    static func referenceIDs(_ text: String) -> [(id: String, line: String)] {
        var seen: Set<String> = []
        var result: [(String, String)] = []
        for line in text.split(separator: "\n").map(String.init) {
            let columns = line.components(separatedBy: " | ")
            guard columns.count >= 4, columns[1].trimmingCharacters(in: .whitespaces) == "/v2/video/generations" else { continue }
            for id in columns[0].split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where seen.insert(id).inserted {
                result.append((id, line))
            }
        }
        return result
    }

    static func runGenerator(reference: String, output: String, in directory: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", generator, reference, output]
        let log = directory + "/generator.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(process.terminationStatus == 0, "\(output)")
    }

    @Test func everyReferenceLineBecomesADraftThatLoadsAsAModelsDirectoryFile() async throws {
        try await withTemporaryDirectory { root in
            let ids = Self.referenceIDs(try String(contentsOfFile: Self.reference, encoding: .utf8))
            #expect(ids.count >= 140, "the reference has about 140 models on /v2/video/generations")
            try Self.runGenerator(reference: Self.reference, output: root + "/drafts", in: root)
            let files = try FileManager.default.contentsOfDirectory(atPath: root + "/drafts")
            #expect(files.count == ids.count, "one definition per model id")
            // The same code path as /etc/videospool/models.d: one broken draft would throw here.
            let catalog = try ModelDirectory.load(root + "/drafts", required: true, base: ModelCatalog())
            #expect(Set(catalog.models.map(\.schema.model)) == Set(ids.map(\.id)))
            for (id, line) in ids {
                let required = line.components(separatedBy: " | ")[3]
                for name in ["prompt", "image_url", "video_url"] where required.contains("'\(name)'") {
                    #expect(catalog[id]?.required.contains(name) == true, "\(id) requires \(name)")
                }
            }
        }
    }

    @Test func whereAnIdAppearsTwiceTheFirstLineWinsAndOtherEndpointsAreSkipped() async throws {
        try await withTemporaryDirectory { root in
            let reference = root + "/reference.txt"
            try write(
                """
                acme/x | /v1/video/generations | a.json | req=['model', 'prompt'] | prompt; resolution=1080p
                acme/x | /v2/video/generations | b.json | req=['model', 'prompt'] | prompt; resolution=480p(def 480p); duration[2..8]
                acme/x | /v2/video/generations | c.json | req=['model', 'prompt'] | prompt; resolution=720p
                acme/y,acme/z | /v2/video/generations | d.json | req=['model', 'image_url'] | image_url; cfg_scale[0..1](def 0.5); image_urls[None..4]
                acme/w | /v2/generate/video/acme/generation | e.json | req=['model'] | prompt

                """,
                to: reference
            )
            try Self.runGenerator(reference: reference, output: root + "/drafts", in: root)
            let catalog = try ModelDirectory.load(root + "/drafts", required: true, base: ModelCatalog())
            #expect(catalog.models.map(\.schema.model) == ["acme/x", "acme/y", "acme/z"])
            let x = try #require(catalog["acme/x"])
            #expect(x.field(named: "resolution")?.kind == .choice(["480p"], caseInsensitive: false))
            #expect(x.field(named: "resolution")?.defaultValue == .string("480p"))
            #expect(x.field(named: "duration")?.kind == .integer(.init(minimum: 2, maximum: 8, acceptsDigitString: true)))
            let y = try #require(catalog["acme/y"])
            #expect(y.required == ["model", "image_url"])
            #expect(y.field(named: "cfg_scale")?.kind == .number(minimum: 0, maximum: 1))
            #expect(y.field(named: "image_urls")?.kind == .list(.media(.image), count: 0...4))
        }
    }

    /// The hand-written built-in definitions say what their reference lines say about field names,
    /// required fields, enums, list sizes and defaults (the lines give nothing more).
    @Test func theBuiltInSeedanceDefinitionsAgreeWithTheirReferenceLines() async throws {
        try await withTemporaryDirectory { root in
            try Self.runGenerator(reference: Self.reference, output: root + "/drafts", in: root)
            let drafts = try ModelDirectory.load(root + "/drafts", required: true, base: ModelCatalog())
            for entry in ModelCatalog.builtIn.models {
                let builtIn = entry.schema
                let draft = try #require(drafts[builtIn.model], "\(builtIn.model) is not in the reference")
                #expect(builtIn.fields.map(\.name).sorted() == draft.fields.map(\.name).sorted(), "\(builtIn.model)")
                #expect(builtIn.required == draft.required, "\(builtIn.model)")
                for field in builtIn.fields {
                    let drafted = try #require(draft.field(named: field.name))
                    if let value = drafted.defaultValue {
                        #expect(field.defaultValue == value, "\(builtIn.model): default of \(field.name)")
                    }
                    switch (field.kind, drafted.kind) {
                    case (.choice(let choices, _), .choice(let reference, _)):
                        #expect(choices == reference, "\(builtIn.model): \(field.name)")
                    case (.integer(let rule), .integer(let reference)) where reference.values != nil:
                        // duration=4|5|…|15 in the reference; a range in the definition.
                        let range = Array((rule.minimum ?? 0)...(rule.maximum ?? 0))
                        #expect(reference.values == range, "\(builtIn.model): \(field.name)")
                    case (.list(_, let count), .list(_, let reference)):
                        #expect(count == reference, "\(builtIn.model): \(field.name)")
                    default:
                        break
                    }
                }
            }
        }
    }
}
