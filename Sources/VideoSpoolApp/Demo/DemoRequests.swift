import VideoSpoolCore

/// The request files the demo drops: three valid ones that exercise different fields, and one with
/// mistakes, to show a rejection.
enum DemoRequests {
    static func files(callbackURL: String) -> [(name: String, body: JSONValue)] {
        let model = JSONValue.string(ModelSchema.seedance20Mini.model)
        let callback = JSONValue.string(callbackURL)
        return [
            (
                "hedgehog.json",
                .object(
                    JSONObject([
                        "model": model,
                        "prompt": .string("A hedgehog walks through a sunlit forest at dawn, cinematic"),
                        "duration": .string("5"),
                        "resolution": .string("720p"),
                        "aspect_ratio": .string("16:9"),
                        "callback_url": callback,
                        "metadata": .object(JSONObject(["customer": .string("demo"), "order": .int(1)])),
                    ])
                )
            ),
            (
                "harbour.json",
                .object(
                    JSONObject([
                        "model": model,
                        "prompt": .string("Boats in a harbour at night, @Image1 as the style reference"),
                        "image_urls": .array([.string("https://example.com/reference/harbour.jpg")]),
                        "resolution": .string("480p"),
                        "duration": .int(4),
                        "callback_url": callback,
                    ])
                )
            ),
            (
                "voice.json",
                .object(
                    JSONObject([
                        "model": model,
                        "prompt": .string("A presenter speaks to the camera"),
                        "image_url": .string("https://example.com/presenter.png"),
                        "audio_url": .string("https://example.com/voice.mp3"),
                        "job_id": .string("demo-voice-1"),
                        "callback_urls": .array([callback]),
                    ])
                )
            ),
            (
                "broken.json",
                .object(
                    JSONObject([
                        "model": model,
                        "promt": .string("This file has a typo and an impossible duration"),
                        "duration": .int(20),
                        "callback_url": callback,
                    ])
                )
            ),
        ]
    }
}
