import AsyncHTTPClient
import Testing
import VideoSpoolCore
import VideoSpoolObjectStorage

/// The daemon's port over the S3 client: which objects it may delete, and how S3's errors become
/// the retry decisions of the storing phase.
struct S3VideoObjectStorageTests {
    @Test func onlyObjectsInTheConfiguredBucketHaveAKey() async throws {
        try await withHTTPClient { client in
            let objects = S3VideoObjectStorage(
                storage: S3ObjectStorage(
                    configuration: try loopbackConfiguration(port: 9),
                    credentials: testCredentials,
                    httpClient: client,
                    timeSource: FixedTimeSource(time: testSuiteTime),
                    logger: quietLogger
                )
            )
            #expect(objects.key(of: "s3://videos/results/2026-11-29/job-1.mp4") == "results/2026-11-29/job-1.mp4")
            #expect(objects.key(of: "s3://other/results/job-1.mp4") == nil, "another bucket is not this daemon's to delete")
            #expect(objects.key(of: "s3://videos-2/job-1.mp4") == nil)
            #expect(objects.key(of: "s3://videos/") == nil)
            #expect(!objects.deletesOnPrune)
        }
    }

    @Test func retryableStorageErrorsAreTransientUploadFailures() {
        let throttled = S3VideoObjectStorage.failure(
            ObjectStorageError(code: .throttled, "PutObject: Slow Down", status: 503, serviceCode: "SlowDown")
        )
        #expect(throttled.code == .uploadFailed)
        #expect(throttled.isTransient)
        #expect(throttled.statusCode == 503)
        #expect(throttled.message == "object storage: throttled (HTTP 503 SlowDown): PutObject: Slow Down")

        let denied = S3VideoObjectStorage.failure(
            ObjectStorageError(code: .rejected, "PutObject: Access Denied", status: 403, serviceCode: "AccessDenied")
        )
        #expect(!denied.isTransient)
        let changed = S3VideoObjectStorage.failure(ObjectStorageError(code: .checksumMismatch, "the file changed"))
        #expect(!changed.isTransient)
    }
}
