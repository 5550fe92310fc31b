/// The upstream video API: submit a generation, ask for its status.
public protocol GenerationAPI: Sendable {
    /// `POST /v2/video/generations` with `body`. `jobID` is for logs only; it is not sent.
    func submit(body: [UInt8], jobID: JobID) async -> APIExchange

    /// `GET /v2/video/generations?generation_id=…`.
    func status(of generationID: String, jobID: JobID) async -> APIExchange
}
