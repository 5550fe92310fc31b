import Configuration
import Foundation
import Testing
import VideoSpoolApp
import VideoSpoolObjectStorage

/// `results.s3.*` parsing (``S3Settings``) and credential lookup.
struct S3SettingsTests {
    /// A configuration as the YAML file gives it: every value a string.
    func read(_ values: [String: String]) throws(ConfigurationError) -> S3Settings? {
        var entries: [AbsoluteConfigKey: ConfigValue] = [:]
        for (key, value) in values { entries[AbsoluteConfigKey(stringLiteral: key)] = ConfigValue(.string(value), isSecret: false) }
        return try S3Settings.read(config: ConfigReader(provider: InMemoryProvider(values: entries)))
    }

    @Test func noResultsS3KeyMeansNoObjectStorage() throws {
        #expect(try read(["log.level": "debug"]) == nil)
    }

    @Test func aBucketAloneGivesAWSDefaults() throws {
        let settings = try #require(try read(["results.s3.bucket": "my-videos"]))
        let configuration = settings.configuration
        #expect(configuration.endpoint.description == "https://s3.us-east-1.amazonaws.com")
        #expect(configuration.region == "us-east-1")
        #expect(configuration.addressingStyle == .virtual)
        #expect(configuration.keyPrefix.template == "videospool/{date}/")
        #expect(configuration.presignSeconds == 86400)
        #expect(configuration.partBytes == 64 * 1024 * 1024)
        #expect(configuration.deleteOnPrune == false)
        #expect(configuration.serverSideEncryption == nil)
        #expect(configuration.requestTimeout == .seconds(30))
    }

    @Test func everyKeyIsRead() throws {
        let settings = try #require(
            try read([
                "results.s3.endpoint": "http://127.0.0.1:9000/",
                "results.s3.region": "auto",
                "results.s3.bucket": "Old_Bucket.v1",
                "results.s3.key_prefix": "r/{job_id}/",
                "results.s3.addressing_style": "path",
                "results.s3.access_key_id_file": "/etc/videospool/s3-id",
                "results.s3.secret_access_key_file": "/etc/videospool/s3-secret",
                "results.s3.session_token_file": "/run/token",
                "results.s3.server_side_encryption": "aws:kms",
                "results.s3.sse_kms_key_id": "arn:aws:kms:eu-west-1:1:key/abc",
                "results.s3.presign_seconds": "604800",
                "results.s3.part_bytes": "5242880",
                "results.s3.delete_on_prune": "true",
                "results.s3.timeout_seconds": "2.5",
            ])
        )
        let configuration = settings.configuration
        #expect(configuration.endpoint == (try S3Endpoint(parsing: "http://127.0.0.1:9000")))
        #expect(configuration.region == "auto")
        #expect(configuration.bucket == "Old_Bucket.v1")
        #expect(configuration.keyPrefix.template == "r/{job_id}/")
        #expect(configuration.addressingStyle == .path)
        #expect(configuration.serverSideEncryption == .kms(keyID: "arn:aws:kms:eu-west-1:1:key/abc"))
        #expect(configuration.presignSeconds == 604_800)
        #expect(configuration.partBytes == 5_242_880)
        #expect(configuration.deleteOnPrune)
        #expect(configuration.requestTimeout == .milliseconds(2500))
        #expect(settings.accessKeyIDFile == "/etc/videospool/s3-id")
        #expect(settings.secretAccessKeyFile == "/etc/videospool/s3-secret")
        #expect(settings.sessionTokenFile == "/run/token")
        #expect(S3Settings.knownKeys.count == 14)
    }

    @Test(arguments: [
        (["results.s3.region": "eu-west-1"], "results.s3.bucket", "required"),
        (["results.s3.bucket": "ab"], "results.s3.bucket", "not a bucket name"),
        (["results.s3.bucket": "-videos"], "results.s3.bucket", "not a bucket name"),
        (["results.s3.bucket": "vid eos"], "results.s3.bucket", "not a bucket name"),
        (["results.s3.bucket": "my.videos"], "results.s3.bucket", "addressing_style: path"),
        (["results.s3.bucket": "MyVideos"], "results.s3.bucket", "addressing_style: path"),
        (["results.s3.bucket": "v", "results.s3.region": "eu west"], "results.s3.region", "region name"),
        (["results.s3.bucket": "videos", "results.s3.endpoint": "s3.amazonaws.com"], "results.s3.endpoint", "https://"),
        (["results.s3.bucket": "videos", "results.s3.endpoint": "https://s3.example.com/bucket"], "results.s3.endpoint", "without a path"),
        (["results.s3.bucket": "videos", "results.s3.endpoint": "https://user@s3.example.com"], "results.s3.endpoint", "user information"),
        (["results.s3.bucket": "videos", "results.s3.endpoint": "http://h:99999"], "results.s3.endpoint", "invalid port"),
        (["results.s3.bucket": "videos", "results.s3.endpoint": "http://10.0.0.5:9000"], "results.s3.addressing_style", "host name"),
        (["results.s3.bucket": "videos", "results.s3.addressing_style": "vhost"], "results.s3.addressing_style", "'virtual' or 'path'"),
        (["results.s3.bucket": "videos", "results.s3.key_prefix": "{day}/"], "results.s3.key_prefix", "unknown placeholder"),
        (["results.s3.bucket": "videos", "results.s3.key_prefix": "/abs/"], "results.s3.key_prefix", "starts with '/'"),
        (["results.s3.bucket": "videos", "results.s3.presign_seconds": "604801"], "results.s3.presign_seconds", "between 1 and 604800"),
        (["results.s3.bucket": "videos", "results.s3.presign_seconds": "0"], "results.s3.presign_seconds", "between 1 and 604800"),
        (["results.s3.bucket": "videos", "results.s3.part_bytes": "1048576"], "results.s3.part_bytes", "between 5242880"),
        (["results.s3.bucket": "videos", "results.s3.part_bytes": "lots"], "results.s3.part_bytes", "whole number"),
        (["results.s3.bucket": "videos", "results.s3.server_side_encryption": "aes256"], "results.s3.server_side_encryption", "AES256 or aws:kms"),
        (["results.s3.bucket": "videos", "results.s3.sse_kms_key_id": "k"], "results.s3.sse_kms_key_id", "needs"),
        (
            ["results.s3.bucket": "videos", "results.s3.server_side_encryption": "AES256", "results.s3.sse_kms_key_id": "k"],
            "results.s3.sse_kms_key_id", "only applies"
        ),
        (["results.s3.bucket": "videos", "results.s3.delete_on_prune": "sometimes"], "results.s3.delete_on_prune", "true or false"),
        (["results.s3.bucket": "videos", "results.s3.timeout_seconds": "0"], "results.s3.timeout_seconds", "between 1.0 and 3600.0"),
        (["results.s3.bucket": "videos", "results.s3.secret_access_key_file": "relative"], "results.s3.secret_access_key_file", "absolute"),
    ])
    func aBadValueIsAnErrorNamingItsKey(values: [String: String], key: String, reason: String) {
        let error = #expect(throws: ConfigurationError.self) { try read(values) }
        #expect(error?.key == key)
        #expect(error?.message.contains(reason) == true, "\(error?.description ?? "no error")")
    }

    // MARK: - Credentials

    @Test func credentialsComeFromFilesThenTheCredentialsDirectoryThenTheEnvironment() throws {
        try withTemporaryDirectorySync { directory in
            try "AKIAFILE\n".write(toFile: directory + "/id", atomically: true, encoding: .utf8)
            try "file-secret-value\n".write(toFile: directory + "/secret", atomically: true, encoding: .utf8)
            try FileManager.default.createDirectory(atPath: directory + "/credentials", withIntermediateDirectories: true)
            try "AKIACRED".write(toFile: directory + "/credentials/s3-access-key-id", atomically: true, encoding: .utf8)
            try "cred-secret-value".write(toFile: directory + "/credentials/s3-secret-access-key", atomically: true, encoding: .utf8)
            try "cred-token".write(toFile: directory + "/credentials/s3-session-token", atomically: true, encoding: .utf8)
            let environment = [
                "CREDENTIALS_DIRECTORY": directory + "/credentials",
                "AWS_ACCESS_KEY_ID": "AKIAENV",
                "AWS_SECRET_ACCESS_KEY": "env-secret-value",
            ]
            var settings = try #require(try read(["results.s3.bucket": "videos"]))
            let fromDirectory = try settings.resolveCredentials(environment: environment)
            #expect(fromDirectory.accessKeyID == "AKIACRED")
            #expect(fromDirectory.secretAccessKey == "cred-secret-value")
            #expect(fromDirectory.sessionToken == "cred-token")

            let fromEnvironment = try settings.resolveCredentials(environment: environment.filter { $0.key != "CREDENTIALS_DIRECTORY" })
            #expect(fromEnvironment.accessKeyID == "AKIAENV")
            #expect(fromEnvironment.secretAccessKey == "env-secret-value")
            #expect(fromEnvironment.sessionToken == nil)

            settings.accessKeyIDFile = directory + "/id"
            settings.secretAccessKeyFile = directory + "/secret"
            let fromFiles = try settings.resolveCredentials(environment: environment)
            #expect(fromFiles.accessKeyID == "AKIAFILE")
            #expect(fromFiles.secretAccessKey == "file-secret-value")
            #expect(!"\(fromFiles)".contains("file-secret-value"))
            #expect(!settings.summary.joined().contains("file-secret-value"))
        }
    }

    @Test func aMissingOrMalformedCredentialNamesItsKey() throws {
        let settings = try #require(try read(["results.s3.bucket": "videos"]))
        let missing = #expect(throws: ConfigurationError.self) {
            try settings.resolveCredentials(environment: ["AWS_ACCESS_KEY_ID": "AKIA"])
        }
        #expect(missing?.key == "results.s3.secret_access_key_file")
        #expect(missing?.message.contains("s3-secret-access-key") == true)
        let slash = #expect(throws: ConfigurationError.self) {
            try settings.resolveCredentials(environment: ["AWS_ACCESS_KEY_ID": "AKIA/X", "AWS_SECRET_ACCESS_KEY": "s"])
        }
        #expect(slash?.key == "results.s3.access_key_id_file")
    }

    @Test func everyKeyIsDocumented() throws {
        let documentation = try String(contentsOfFile: packageRoot + "/docs/results-s3.md", encoding: .utf8)
        for key in S3Settings.knownKeys {
            #expect(documentation.contains("`\(key)`"), "\(key) is missing from docs/results-s3.md")
        }
    }
}

/// A fresh directory, removed afterwards.
func withTemporaryDirectorySync<Result>(_ body: (String) throws -> Result) throws -> Result {
    var template = Array((FileManager.default.temporaryDirectory.path + "/videospool-test.XXXXXX").utf8CString)
    guard let pointer = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
    let path = String(cString: pointer)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}
