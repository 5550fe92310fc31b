import Foundation
public import VideoSpoolCore
public import VideoSpoolObjectStorage
public import VideoSpoolPostgres

/// The API key and the webhook signing secret, found the way systemd services expect: an explicit
/// file, then the unit's credential (`LoadCredential=`), then an environment variable.
public struct Credentials: Sendable, CustomStringConvertible {
    public let apiKey: String
    public let webhookSecret: WebhookSecret
    /// The shared store's connection, password included, with `state.backend: postgresql`.
    public let postgresql: PostgresStoreConfiguration?
    /// Object storage's access key and secret, with `results.s3`.
    public let s3: SigV4Credentials?

    public init(
        apiKey: String,
        webhookSecret: WebhookSecret,
        postgresql: PostgresStoreConfiguration? = nil,
        s3: SigV4Credentials? = nil
    ) {
        self.apiKey = apiKey
        self.webhookSecret = webhookSecret
        self.postgresql = postgresql
        self.s3 = s3
    }

    /// Never prints a secret.
    public var description: String { "Credentials(apiKey: <redacted>, webhookSecret: <redacted>)" }

    /// Every secret, to be scrubbed from anything logged.
    public var secrets: [String] {
        [apiKey, webhookSecret.encoded] + [postgresql?.password].compactMap { $0 }.filter { !$0.isEmpty }
            + (s3?.secrets ?? [])
    }

    /// The shared store's connection, with the password from `state.postgresql.password_file`, the
    /// unit's credential `postgresql-password` or the URL; `nil` with another backend.
    public static func postgresql(
        settings: DaemonSettings,
        environment: [String: String]
    ) throws(ConfigurationError) -> PostgresStoreConfiguration? {
        guard settings.storeBackend == .postgresql else { return nil }
        var values = settings.postgresql
        values.credentialsDirectory = environment["CREDENTIALS_DIRECTORY"]
        do {
            return try PostgresStoreConfiguration.parse(values)
        } catch {
            throw ConfigurationError(key: error.key, error.message)
        }
    }

    public static func resolve(
        settings: DaemonSettings,
        environment: [String: String]
    ) throws(ConfigurationError) -> Credentials {
        let key = try find(
            key: "api.key_file",
            file: settings.apiKeyFile,
            credential: "api-key",
            variable: "AIMLAPI_API_KEY",
            environment: environment
        )
        guard !key.isEmpty, key.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
            throw ConfigurationError(key: "api.key_file", "the API key is empty or contains spaces or control characters")
        }
        let secretText = try find(
            key: "webhooks.secret_file",
            file: settings.webhookSecretFile,
            credential: "webhook-secret",
            variable: "VIDEOSPOOL_WEBHOOK_SECRET",
            environment: environment
        )
        let secret: WebhookSecret
        do {
            secret = try WebhookSecret(parsing: secretText)
        } catch {
            throw ConfigurationError(key: "webhooks.secret_file", "the webhook secret \(error.description)")
        }
        return Credentials(
            apiKey: key,
            webhookSecret: secret,
            postgresql: try postgresql(settings: settings, environment: environment),
            s3: try settings.s3?.resolveCredentials(environment: environment)
        )
    }

    /// The value of a secret: `file` when set, else the unit's credential `credential`, else the
    /// environment variable `variable`.
    static func find(
        key: String,
        file: String?,
        credential: String,
        variable: String,
        environment: [String: String]
    ) throws(ConfigurationError) -> String {
        if let file {
            return try read(file, key: key)
        }
        if let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty {
            let path = directory + "/" + credential
            if FileManager.default.fileExists(atPath: path) { return try read(path, key: key) }
        }
        if let value = environment[variable], !value.isEmpty {
            return value.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        throw ConfigurationError(
            key: key,
            "not found: set \(key), or give the systemd credential '\(credential)' (LoadCredential=), "
                + "or set the environment variable \(variable)"
        )
    }

    private static func read(_ path: String, key: String) throws(ConfigurationError) -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            throw ConfigurationError(key: key, "cannot read \(path): \(error.localizedDescription)")
        }
    }
}
