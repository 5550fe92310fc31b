/// What a generation's duration depends on: the model, the resolution and the clip length. Jobs
/// with the same key share one learned distribution of completion times.
public struct CompletionTimeKey: Sendable, Hashable, CustomStringConvertible {
    public var model: String
    public var resolution: String?
    public var durationSeconds: Int?

    public init(model: String, resolution: String? = nil, durationSeconds: Int? = nil) {
        self.model = model
        self.resolution = resolution
        self.durationSeconds = durationSeconds
    }

    public init(_ job: Job) {
        self.init(
            model: job.model,
            resolution: job.parameters.resolution,
            durationSeconds: job.parameters.durationSeconds
        )
    }

    public var description: String {
        "\(model) \(resolution ?? "default") \(durationSeconds.map { "\($0) s" } ?? "default")"
    }
}
