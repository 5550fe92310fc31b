import AsyncHTTPClient
import Logging
import NIOCore
import VideoSpoolCore
package import VideoSpoolObjectStorage
import VideoSpoolRuntime

/// The S3 client for `results.s3`, on an HTTP client of its own that follows no redirects (a
/// redirect from S3 means a wrong region or endpoint), closed with it.
package struct ObjectStorageConnection: Sendable {
    package let storage: S3ObjectStorage
    let client: HTTPClient

    /// nil without `results.s3`.
    static func make(
        settings: DaemonSettings,
        credentials: SigV4Credentials?,
        time: any TimeSource,
        logger: Logger
    ) -> ObjectStorageConnection? {
        guard let s3 = settings.s3, let credentials else { return nil }
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(10), read: nil)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let storage = S3ObjectStorage(
            configuration: s3.configuration,
            credentials: credentials,
            httpClient: client,
            timeSource: time,
            logger: logger
        )
        return ObjectStorageConnection(storage: storage, client: client)
    }

    /// The pipeline's and retention's view of it.
    var videoObjects: S3VideoObjectStorage { S3VideoObjectStorage(storage: storage) }

    /// Call once, after the last request.
    func shutdown() async throws {
        try await client.shutdown()
    }

    /// Runs `body` with a connection made from the configuration (credentials resolved from
    /// `environment`), or nil without `results.s3`; closes it afterwards.
    static func with<Result>(
        settings: DaemonSettings,
        environment: [String: String],
        logger: Logger,
        _ body: (ObjectStorageConnection?) async throws -> Result
    ) async throws -> Result {
        guard let s3 = settings.s3 else { return try await body(nil) }
        let credentials = try s3.resolveCredentials(environment: environment)
        let connection = make(settings: settings, credentials: credentials, time: SystemTimeSource(), logger: logger)
        do {
            let result = try await body(connection)
            try? await connection?.shutdown()
            return result
        } catch {
            try? await connection?.shutdown()
            throw error
        }
    }
}
