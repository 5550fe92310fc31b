/// What the simulator answers to `GET /_videos/<generation_id>.mp4`; ``Simulator`` turns it into
/// an HTTP response.
public indirect enum VideoReply: Sendable {
    /// An error status with an S3-style XML body.
    case error(status: Int, code: String, message: String, retryAfterSeconds: Int? = nil)
    /// 302 to `location`.
    case redirect(location: String)
    /// 416 with `Content-Range: bytes */total`.
    case rangeNotSatisfiable(total: Int64)
    case body(VideoBody)
    case delayed(Duration, then: VideoReply)
}

/// A video body: which bytes of which video, and how they are sent.
public struct VideoBody: Sendable {
    public enum Behaviour: Sendable, Hashable {
        case normal
        /// About this many bytes per second.
        case slowDrip(bytesPerSecond: Double)
        /// The full `Content-Length`, then only this many bytes and a closed connection.
        case truncate(afterBytes: Int64)
        /// A `Content-Length` 1024 bytes longer than the body, then a closed connection.
        case wrongLength
        /// The bytes, then padding until the client goes away; no `Content-Length`.
        case endless
        /// No `Content-Length` (chunked).
        case chunked
    }

    public var video: SimulatedVideo
    /// 200, or 206 for a range.
    public var status: Int
    /// The bytes of the video sent.
    public var range: Range<Int64>
    public var behaviour: Behaviour

    /// `Content-Range` of a 206.
    public var contentRange: String? {
        status == 206 ? "bytes \(range.lowerBound)-\(range.upperBound - 1)/\(video.count)" : nil
    }

    /// The `Content-Length` announced, or `nil` for a chunked body.
    public var announcedLength: Int64? {
        switch behaviour {
        case .endless, .chunked: nil
        case .wrongLength: Int64(range.count) + 1024
        default: Int64(range.count)
        }
    }
}
