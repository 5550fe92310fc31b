import Testing
import VideoSpoolCore

/// What the reference file and the research notes say about each built-in Seedance model, written
/// out by hand (not read from the definitions), so that the table below checks the definitions.
struct SeedanceFacts: Sendable {
    let model: String
    let resolutions: [String]
    let maximumDuration: Int
    let providers: [String]
    /// `audio_url` and `video_url` (2.0 Fast has neither).
    let singularAudioAndVideo: Bool
    let watermark: Bool

    static let all: [SeedanceFacts] = [
        SeedanceFacts(
            model: "bytedance/dreamina-seedance-2-0-mini",
            resolutions: ["480p", "720p"],
            maximumDuration: 15,
            providers: ["bytedance", "fal", "auto"],
            singularAudioAndVideo: true,
            watermark: true
        ),
        SeedanceFacts(
            model: "bytedance/seedance-2-0",
            resolutions: ["480p", "720p", "1080p", "4k"],
            maximumDuration: 15,
            providers: ["bytedance", "fal", "auto"],
            singularAudioAndVideo: true,
            watermark: true
        ),
        SeedanceFacts(
            model: "bytedance/seedance-2-0-fast",
            resolutions: ["480p", "720p"],
            maximumDuration: 15,
            providers: ["bytedance", "fal", "auto"],
            singularAudioAndVideo: false,
            watermark: false
        ),
        SeedanceFacts(
            model: "bytedance/seedance-2-5",
            resolutions: ["480p", "720p"],
            maximumDuration: 30,
            providers: ["bytedance", "auto"],
            singularAudioAndVideo: true,
            watermark: true
        ),
        SeedanceFacts(
            model: "bytedance/dreamina-seedance-2-5",
            resolutions: ["480p", "720p"],
            maximumDuration: 30,
            providers: ["bytedance", "auto"],
            singularAudioAndVideo: true,
            watermark: true
        ),
    ]
}

/// One request for one built-in model, valid or not, at or just beyond a limit. The Swift
/// validator (BuiltInModelValidationTests) and Python `jsonschema` on the generated schemas
/// (RequestSchemaTests) are both held to it.
struct ModelCase: Sendable, CustomTestStringConvertible {
    let model: String
    let name: String
    /// JSON members after `"model"`.
    let members: String
    /// `nil` when the request is valid; else the code and field of the (one) problem.
    let problem: (code: String, field: String)?
    /// For valid cases: the resolution and duration the poll schedule groups the job by.
    var parameters: GenerationParameters?

    var request: String { #"{"model": "\#(model)", \#(members)}"# }
    var isValid: Bool { problem == nil }
    var testDescription: String { "\(model): \(name)" }

    static func valid(_ model: String, _ name: String, _ members: String, parameters: GenerationParameters? = nil) -> ModelCase {
        ModelCase(model: model, name: name, members: members, problem: nil, parameters: parameters)
    }

    static func invalid(_ model: String, _ name: String, _ members: String, _ code: String, _ field: String) -> ModelCase {
        ModelCase(model: model, name: name, members: members, problem: (code, field))
    }

    static let png = "data:image/png;base64,iVBORw0KGgo="

    static func urls(_ count: Int, _ suffix: String) -> String {
        "[" + (1...count).map { #""https://e.com/\#($0).\#(suffix)""# }.joined(separator: ", ") + "]"
    }

    /// Every built-in model, valid and invalid at each of its limits.
    static let all: [ModelCase] = SeedanceFacts.all.flatMap(cases)

    static func cases(_ facts: SeedanceFacts) -> [ModelCase] {
        let m = facts.model
        let p = #""prompt": "a hedgehog at dawn""#
        let top = facts.maximumDuration
        var cases: [ModelCase] = [
            .valid(m, "prompt only", p, parameters: GenerationParameters()),
            .valid(m, "shortest duration", p + #", "duration": 4"#, parameters: GenerationParameters(durationSeconds: 4)),
            .valid(m, "longest duration", p + #", "duration": \#(top)"#, parameters: GenerationParameters(durationSeconds: top)),
            .valid(m, "longest duration as a string", p + #", "duration": "\#(top)""#, parameters: GenerationParameters(durationSeconds: top)),
            .invalid(m, "duration below the shortest", p + #", "duration": 3"#, "out_of_range", "duration"),
            .invalid(m, "duration beyond the longest", p + #", "duration": \#(top + 1)"#, "out_of_range", "duration"),
            .invalid(m, "duration beyond the longest as a string", p + #", "duration": "\#(top + 1)""#, "out_of_range", "duration"),
            .invalid(m, "duration with a fraction", p + #", "duration": 5.5"#, "wrong_type", "duration"),
            .invalid(m, "no prompt", #""duration": 5"#, "missing_field", "prompt"),
            .invalid(m, "an empty prompt", #""prompt": " ""#, "empty_value", "prompt"),
            .valid(m, "aspect ratio", p + #", "aspect_ratio": "21:9""#),
            .invalid(m, "an aspect ratio nobody has", p + #", "aspect_ratio": "2:1""#, "invalid_value", "aspect_ratio"),
            .valid(m, "lowest seed", p + #", "seed": -1"#),
            .valid(m, "highest seed", p + #", "seed": 4294967295"#),
            .invalid(m, "seed below -1", p + #", "seed": -2"#, "out_of_range", "seed"),
            .invalid(m, "seed beyond 2^32-1", p + #", "seed": 4294967296"#, "out_of_range", "seed"),
            .valid(m, "generate_audio", p + #", "generate_audio": false"#),
            .valid(m, "nine reference images, one inline", p + #", "image_urls": \#(urls(8, "png").dropLast()), "\#(png)"]"#),
            .invalid(m, "ten reference images", p + #", "image_urls": \#(urls(10, "png"))"#, "too_many_items", "image_urls"),
            .invalid(m, "an empty image list", p + #", "image_urls": []"#, "too_few_items", "image_urls"),
            .valid(m, "three audio references with images", p + #", "image_urls": \#(urls(1, "png")), "audio_urls": \#(urls(3, "mp3"))"#),
            .invalid(m, "four audio references", p + #", "image_urls": \#(urls(1, "png")), "audio_urls": \#(urls(4, "mp3"))"#, "too_many_items", "audio_urls"),
            .invalid(m, "audio references alone", p + #", "audio_urls": \#(urls(1, "mp3"))"#, "audio_without_reference", "audio_urls"),
            .valid(m, "three video references", p + #", "video_urls": \#(urls(3, "mp4"))"#),
            .invalid(m, "four video references", p + #", "video_urls": \#(urls(4, "mp4"))"#, "too_many_items", "video_urls"),
            .invalid(m, "an inline reference video", p + #", "video_urls": ["data:video/mp4;base64,AAAA"]"#, "unsupported_scheme", "video_urls[0]"),
            .valid(m, "first and last frame", p + #", "image_url": "\#(png)", "last_image_url": "https://e.com/l.png""#),
            .invalid(m, "a field no Seedance model has", p + #", "negative_prompt": "dogs""#, "unknown_field", "negative_prompt"),
        ]
        for resolution in facts.resolutions {
            cases.append(
                .valid(m, "resolution \(resolution)", p + #", "resolution": "\#(resolution)""#, parameters: GenerationParameters(resolution: resolution))
            )
        }
        for resolution in ["480p", "720p", "1080p", "4k"] where !facts.resolutions.contains(resolution) {
            cases.append(.invalid(m, "resolution \(resolution)", p + #", "resolution": "\#(resolution)""#, "invalid_value", "resolution"))
        }
        cases.append(.invalid(m, "resolution 8k", p + #", "resolution": "8k""#, "invalid_value", "resolution"))
        cases.append(.invalid(m, "resolution in capitals", p + #", "resolution": "720P""#, "invalid_value", "resolution"))
        for provider in facts.providers {
            cases.append(.valid(m, "provider \(provider) in capitals", p + #", "provider": "\#(provider.uppercased())""#))
        }
        for provider in ["bytedance", "fal", "auto"] where !facts.providers.contains(provider) {
            cases.append(.invalid(m, "provider \(provider)", p + #", "provider": "\#(provider)""#, "invalid_value", "provider"))
        }
        if facts.singularAudioAndVideo {
            cases += [
                .valid(m, "audio by asset id with a reference video", p + #", "video_url": "https://e.com/v.mp4", "audio_url": "asset://voice-1""#),
                .invalid(m, "audio without a reference", p + #", "audio_url": "https://e.com/a.mp3""#, "audio_without_reference", "audio_url"),
                .invalid(m, "an inline video", p + #", "video_url": "data:video/mp4;base64,AAAA""#, "unsupported_scheme", "video_url"),
            ]
        } else {
            cases += [
                .invalid(m, "audio_url, which it lacks", p + #", "image_url": "https://e.com/a.png", "audio_url": "https://e.com/a.mp3""#, "unknown_field", "audio_url"),
                .invalid(m, "video_url, which it lacks", p + #", "video_url": "https://e.com/v.mp4""#, "unknown_field", "video_url"),
            ]
        }
        if facts.watermark {
            cases.append(.valid(m, "watermark", p + #", "watermark": true"#))
        } else {
            cases.append(.invalid(m, "watermark, which it lacks", p + #", "watermark": true"#, "unknown_field", "watermark"))
        }
        return cases
    }
}
