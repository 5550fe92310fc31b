public import Configuration
import Foundation
public import VideoSpoolObjectStorage

/// `results.s3.*`: object storage for stored results, and where its credentials come from
/// (``DaemonSettings/s3``).
public struct S3Settings: Sendable {
    public var configuration: S3Configuration
    public var accessKeyIDFile: String?
    public var secretAccessKeyFile: String?
    public var sessionTokenFile: String?

    public static let knownKeys: [String] = [
        "results.s3.endpoint", "results.s3.region", "results.s3.bucket", "results.s3.key_prefix",
        "results.s3.addressing_style", "results.s3.access_key_id_file", "results.s3.secret_access_key_file",
        "results.s3.session_token_file", "results.s3.server_side_encryption", "results.s3.sse_kms_key_id",
        "results.s3.presign_seconds", "results.s3.part_bytes", "results.s3.delete_on_prune",
        "results.s3.timeout_seconds",
    ]

    /// Reads `results.s3.*` strictly; every error names its key.
    ///
    /// ## Configuration keys
    /// - `results.s3.bucket` (string, required to enable object storage): the bucket.
    /// - `results.s3.region` (string, default `us-east-1`): the signing region (`auto` for Cloudflare R2).
    /// - `results.s3.endpoint` (URL, default `https://s3.<region>.amazonaws.com`): `scheme://host[:port]`.
    /// - `results.s3.addressing_style` (`virtual` or `path`, default `virtual`).
    /// - `results.s3.key_prefix` (string, default `videospool/{date}/`): `{job_id}` and `{date}` are replaced.
    /// - `results.s3.access_key_id_file`, `results.s3.secret_access_key_file`, `results.s3.session_token_file`
    ///   (absolute paths, optional): see ``resolveCredentials(environment:)``.
    /// - `results.s3.server_side_encryption` (`AES256` or `aws:kms`, optional), `results.s3.sse_kms_key_id`
    ///   (string, only with `aws:kms`).
    /// - `results.s3.presign_seconds` (int, 1–604800, default 86400).
    /// - `results.s3.part_bytes` (int, 5 MiB–5 GiB, default 64 MiB).
    /// - `results.s3.delete_on_prune` (bool, default false).
    /// - `results.s3.timeout_seconds` (seconds, 1–3600, default 30).
    ///
    /// - Returns: nil when no `results.s3` key is set (object storage off).
    public static func read(config: ConfigReader) throws(ConfigurationError) -> S3Settings? {
        let reader = StrictReader(config: config)
        guard knownKeys.contains(where: { reader.isPresent($0) }) else { return nil }
        let bucket = try reader.string("results.s3.bucket", default: "")
        guard !bucket.isEmpty else {
            throw ConfigurationError(key: "results.s3.bucket", "required when any other results.s3 key is set")
        }
        let region = try reader.string("results.s3.region", default: "us-east-1")
        guard (1...64).contains(region.utf8.count),
            region.utf8.allSatisfy({ Self.isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") })
        else {
            throw ConfigurationError(key: "results.s3.region", "must be a region name such as eu-central-1 or auto (got '\(region)')")
        }
        let endpointText = try reader.string("results.s3.endpoint", default: "https://s3.\(region).amazonaws.com")
        let endpoint: S3Endpoint
        do {
            endpoint = try S3Endpoint(parsing: endpointText)
        } catch {
            throw ConfigurationError(key: "results.s3.endpoint", error.message)
        }
        let styleText = try reader.string("results.s3.addressing_style", default: S3Configuration.AddressingStyle.virtual.rawValue)
        guard let style = S3Configuration.AddressingStyle(rawValue: styleText) else {
            throw ConfigurationError(key: "results.s3.addressing_style", "must be 'virtual' or 'path' (got '\(styleText)')")
        }
        try checkBucket(bucket, style: style, endpoint: endpoint)
        let prefixText = try reader.string("results.s3.key_prefix", default: S3Configuration.defaultKeyPrefix)
        let prefix: S3KeyTemplate
        do {
            prefix = try S3KeyTemplate(prefixText)
        } catch {
            throw ConfigurationError(key: "results.s3.key_prefix", error.message)
        }
        let encryption = try readEncryption(reader)
        let presignSeconds = try reader.int(
            "results.s3.presign_seconds",
            default: S3Configuration.defaultPresignSeconds,
            in: 1...SigV4Signer.maximumPresignSeconds
        )
        let partBytes = try reader.int(
            "results.s3.part_bytes",
            default: S3Configuration.defaultPartBytes,
            in: S3Configuration.minimumPartBytes...S3Configuration.maximumPartBytes
        )
        let deleteOnPrune = try reader.bool("results.s3.delete_on_prune", default: false)
        let timeout = try reader.seconds("results.s3.timeout_seconds", default: 30, in: 1...3600)
        return S3Settings(
            configuration: S3Configuration(
                endpoint: endpoint,
                region: region,
                bucket: bucket,
                keyPrefix: prefix,
                addressingStyle: style,
                serverSideEncryption: encryption,
                presignSeconds: presignSeconds,
                partBytes: partBytes,
                deleteOnPrune: deleteOnPrune,
                requestTimeout: .milliseconds(Int64(timeout * 1000))
            ),
            accessKeyIDFile: try reader.optionalPath("results.s3.access_key_id_file"),
            secretAccessKeyFile: try reader.optionalPath("results.s3.secret_access_key_file"),
            sessionTokenFile: try reader.optionalPath("results.s3.session_token_file")
        )
    }

    /// S3's bucket naming rules, relaxed for path style (older buckets may have capitals or `_`), and
    /// what virtual-host style needs: a DNS label under a name, and no dot over TLS (the storage's
    /// wildcard certificate covers one label only).
    private static func checkBucket(
        _ bucket: String,
        style: S3Configuration.AddressingStyle,
        endpoint: S3Endpoint
    ) throws(ConfigurationError) {
        let bytes = Array(bucket.utf8)
        let allowed = bytes.allSatisfy { byte in
            isAlphanumeric(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
        }
        guard (3...63).contains(bytes.count), allowed, isAlphanumeric(bytes.first!), isAlphanumeric(bytes.last!) else {
            throw ConfigurationError(
                key: "results.s3.bucket",
                "'\(bucket)' is not a bucket name: 3 to 63 letters, digits, '-' or '.', starting and ending with a letter or digit"
            )
        }
        guard style == .virtual else { return }
        if bytes.contains(where: { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) || $0 == UInt8(ascii: "_") }) {
            throw ConfigurationError(
                key: "results.s3.bucket",
                "'\(bucket)' has capitals or '_', which cannot be part of a host name; set results.s3.addressing_style: path"
            )
        }
        if endpoint.scheme == "https", bucket.contains(".") {
            throw ConfigurationError(
                key: "results.s3.bucket",
                "'\(bucket)' has dots, which the storage's TLS certificate does not cover in virtual-host style; "
                    + "set results.s3.addressing_style: path"
            )
        }
        let host = endpoint.host
        if host.hasPrefix("[") || host.utf8.allSatisfy({ $0 == UInt8(ascii: ".") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) {
            throw ConfigurationError(
                key: "results.s3.addressing_style",
                "virtual-host style needs a host name, not the address \(host); set results.s3.addressing_style: path"
            )
        }
    }

    private static func readEncryption(_ reader: StrictReader) throws(ConfigurationError) -> S3Configuration.ServerSideEncryption? {
        let text = try reader.string("results.s3.server_side_encryption", default: "")
        let keyID = try reader.string("results.s3.sse_kms_key_id", default: "")
        switch text {
        case "":
            if !keyID.isEmpty {
                throw ConfigurationError(key: "results.s3.sse_kms_key_id", "needs results.s3.server_side_encryption: aws:kms")
            }
            return nil
        case "AES256":
            if !keyID.isEmpty {
                throw ConfigurationError(key: "results.s3.sse_kms_key_id", "only applies to aws:kms, not AES256")
            }
            return .aes256
        case "aws:kms":
            return .kms(keyID: keyID.isEmpty ? nil : keyID)
        default:
            throw ConfigurationError(key: "results.s3.server_side_encryption", "must be AES256 or aws:kms (got '\(text)')")
        }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}

extension S3Settings {
    /// The access key, its secret and an optional session token, each found as the API key is: the
    /// file named by its key, then the unit's credential (`LoadCredential=`: `s3-access-key-id`,
    /// `s3-secret-access-key`, `s3-session-token`), then the environment (`AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`).
    ///
    /// - Important: The secret and the token must join the secrets the log handlers scrub
    ///   (``VideoSpoolObjectStorage/SigV4Credentials/secrets``).
    public func resolveCredentials(environment: [String: String]) throws(ConfigurationError) -> SigV4Credentials {
        let accessKeyID = try Credentials.find(
            key: "results.s3.access_key_id_file",
            file: accessKeyIDFile,
            credential: "s3-access-key-id",
            variable: "AWS_ACCESS_KEY_ID",
            environment: environment
        )
        guard Self.isToken(accessKeyID), !accessKeyID.contains("/"), !accessKeyID.contains(",") else {
            throw ConfigurationError(
                key: "results.s3.access_key_id_file",
                "the access key id is empty or contains spaces, control characters, '/' or ','"
            )
        }
        let secret = try Credentials.find(
            key: "results.s3.secret_access_key_file",
            file: secretAccessKeyFile,
            credential: "s3-secret-access-key",
            variable: "AWS_SECRET_ACCESS_KEY",
            environment: environment
        )
        guard Self.isToken(secret) else {
            throw ConfigurationError(key: "results.s3.secret_access_key_file", "the secret is empty or contains spaces or control characters")
        }
        var token: String?
        if sessionTokenFile != nil || Self.credentialExists("s3-session-token", environment) || environment["AWS_SESSION_TOKEN"].map({ !$0.isEmpty }) == true {
            let found = try Credentials.find(
                key: "results.s3.session_token_file",
                file: sessionTokenFile,
                credential: "s3-session-token",
                variable: "AWS_SESSION_TOKEN",
                environment: environment
            )
            guard Self.isToken(found) else {
                throw ConfigurationError(
                    key: "results.s3.session_token_file",
                    "the session token is empty or contains spaces or control characters"
                )
            }
            token = found
        }
        return SigV4Credentials(accessKeyID: accessKeyID, secretAccessKey: secret, sessionToken: token)
    }

    private static func isToken(_ text: String) -> Bool {
        !text.isEmpty && text.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7F }
    }

    private static func credentialExists(_ name: String, _ environment: [String: String]) -> Bool {
        guard let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty else { return false }
        return FileManager.default.fileExists(atPath: directory + "/" + name)
    }

    /// One line per setting for `check-config`; no secrets, only where they come from.
    public var summary: [String] {
        let configuration = self.configuration
        let encryption: String =
            switch configuration.serverSideEncryption {
            case nil: "none"
            case .aes256: "AES256"
            case .kms(let keyID): "aws:kms" + (keyID.map { " (\($0))" } ?? "")
            }
        return [
            "results.s3: s3://\(configuration.bucket)/\(configuration.keyPrefix) at \(configuration.endpoint) "
                + "(region \(configuration.region), \(configuration.addressingStyle.rawValue) addressing)",
            "results.s3.access_key_id_file: \(accessKeyIDFile ?? "(credential 's3-access-key-id' or $AWS_ACCESS_KEY_ID)")",
            "results.s3.secret_access_key_file: "
                + (secretAccessKeyFile ?? "(credential 's3-secret-access-key' or $AWS_SECRET_ACCESS_KEY)"),
            "results.s3.server_side_encryption: \(encryption)",
            "results.s3.presign_seconds: \(configuration.presignSeconds)",
            "results.s3.part_bytes: \(configuration.partBytes)",
            "results.s3.delete_on_prune: \(configuration.deleteOnPrune)",
        ]
    }
}
