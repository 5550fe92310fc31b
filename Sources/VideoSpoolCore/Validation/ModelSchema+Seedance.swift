extension ModelSchema {
    /// `bytedance/dreamina-seedance-2-0-mini`, from the API reference (seedance-2-0-mini.md).
    ///
    /// Beyond the OpenAPI schema: `duration` also accepts the string form the docs' own examples send
    /// ("5") and is submitted as an integer; `provider` is one of the three documented values,
    /// case-insensitively; `seed` is limited to BytePlus's documented range [-1, 2^32-1]; audio needs
    /// a reference image or video, as the field descriptions require.
    public static let seedance20Mini = ModelSchema(
        model: "bytedance/dreamina-seedance-2-0-mini",
        fields: [
            Field("model", .text(nonEmpty: true)),
            Field("provider", .choice(["bytedance", "fal", "auto"], caseInsensitive: true)),
            Field("prompt", .text(nonEmpty: true)),
            Field("image_url", .media(.image)),
            Field("last_image_url", .media(.image)),
            Field("audio_url", .media(.audio)),
            Field("video_url", .media(.urlOnly)),
            Field("image_urls", .mediaList(.image, count: 1...9)),
            Field("audio_urls", .mediaList(.audioList, count: 1...3)),
            Field("video_urls", .mediaList(.urlOnly, count: 1...3)),
            Field("aspect_ratio", .choice(["21:9", "16:9", "4:3", "1:1", "3:4", "9:16"], caseInsensitive: false)),
            Field("resolution", .choice(["480p", "720p"], caseInsensitive: false)),
            Field("duration", .integer(4...15, acceptsDigitString: true)),
            Field("generate_audio", .boolean),
            Field("seed", .integer(-1...4_294_967_295, acceptsDigitString: false)),
            Field("watermark", .boolean),
        ],
        required: ["model", "prompt"],
        rules: [
            .requiresReference(
                field: "audio_url",
                references: ["image_url", "image_urls", "video_url", "video_urls"],
                message: "'audio_url' needs at least one reference image or video "
                    + "('image_url', 'image_urls', 'video_url' or 'video_urls')"
            ),
            .requiresReference(
                field: "audio_urls",
                references: ["image_urls", "video_urls"],
                message: "'audio_urls' needs at least one reference image ('image_urls') or video ('video_urls')"
            ),
        ]
    )

    /// Every model the daemon can validate, by model id.
    public static let supported: [String: ModelSchema] = [seedance20Mini.model: seedance20Mini]
}
