import Foundation
import Logging
import Testing
import VideoSpoolApp
import VideoSpoolCore

struct SettingsTests {
    @Test func theAnnotatedExampleFileHoldsExactlyTheDefaults() async throws {
        let settings = try await SettingsLoader.loadSettings(path: packageRoot + "/etc/videospool/videospool.yaml")
        let defaults = DaemonSettings()
        #expect(settings.summary == defaults.summary)
        #expect(settings.maximumRequestBytes == defaults.maximumRequestBytes)
        #expect(settings.settleSeconds == defaults.settleSeconds)
        #expect(settings.rescanIntervalSeconds == defaults.rescanIntervalSeconds)
        #expect(settings.requestTimeoutSeconds == defaults.requestTimeoutSeconds)
        #expect(settings.queueLifetimeSeconds == defaults.queueLifetimeSeconds)
        #expect(settings.pauseSeconds == defaults.pauseSeconds)
        #expect(settings.duplicateWindowSeconds == defaults.duplicateWindowSeconds)
        #expect(settings.webhookTimeoutSeconds == defaults.webhookTimeoutSeconds)
        #expect(settings.webhookRetryScheduleSeconds == defaults.webhookRetryScheduleSeconds)
        #expect(settings.maximumConcurrentDeliveries == defaults.maximumConcurrentDeliveries)
        #expect(settings.maximumRequestsPerSecond == defaults.maximumRequestsPerSecond)
        #expect(settings.allowedNetworks == defaults.allowedNetworks)
        #expect(settings.pipelinePolicy.poll == defaults.pipelinePolicy.poll)
    }

    @Test func theLearnedPollScheduleIsTheDefault() {
        let poll = DaemonSettings().pipelinePolicy.poll
        #expect(poll.mode == .learned)
        #expect(poll.denseInterval == .milliseconds(4500))
        #expect(poll.firstDelay == .seconds(30))
        #expect(poll.interval == .seconds(15))
        #expect(poll.deadline == .seconds(1800))
    }

    @Test func everyKnownKeyIsDocumentedInTheExampleFileAndTheConfigurationGuide() throws {
        let example = try String(contentsOfFile: packageRoot + "/etc/videospool/videospool.yaml", encoding: .utf8)
        let guide = try String(contentsOfFile: packageRoot + "/docs/configuration.md", encoding: .utf8)
        // The keys of the guide's table: the first cell of each row, "| `spool.directory` | …".
        let documented = guide.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("| `") else { return nil }
            return line.dropFirst(3).split(separator: "`", maxSplits: 1).first.map(String.init)
        }
        #expect(documented.count == Set(documented).count, "a key has two rows in docs/configuration.md")
        for key in DaemonSettings.knownKeys {
            let leaf = String(key.split(separator: ".").last!)
            #expect(example.contains(leaf + ":"), "\(key) is missing from etc/videospool/videospool.yaml")
            #expect(documented.contains(key), "\(key) has no row in the table in docs/configuration.md")
        }
        for key in documented {
            #expect(DaemonSettings.knownKeys.contains(key), "docs/configuration.md documents '\(key)', which is not a key")
        }
    }

    @Test func valuesInTheFileOverrideTheDefaults() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/videospool.yaml"
            try write(
                """
                spool:
                  directory: /srv/spool
                api:
                  base_url: http://127.0.0.1:8089/
                  max_concurrent_requests: 3
                  max_requests_per_second: 2.5
                  poll:
                    schedule: fixed
                    interval_seconds: 2.5
                    dense_interval_seconds: 3
                  ambiguous_submit_policy: resubmit
                webhooks:
                  default_urls: [https://hooks.example.com/videos]
                  retry_schedule_seconds: [1, 2]
                  allowed_networks: [10.0.0.0/8, "fd00::/8"]
                log:
                  level: DEBUG
                """,
                to: path
            )
            let settings = try await SettingsLoader.loadSettings(path: path)
            #expect(settings.spoolDirectory == "/srv/spool")
            #expect(settings.apiBaseURL == "http://127.0.0.1:8089")
            #expect(settings.maximumConcurrentRequests == 3)
            #expect(settings.maximumRequestsPerSecond == 2.5)
            #expect(settings.pollIntervalSeconds == 2.5)
            #expect(settings.pipelinePolicy.poll.mode == .fixed)
            #expect(settings.pipelinePolicy.poll.denseInterval == .seconds(3))
            #expect(settings.ambiguousSubmissionPolicy == .resubmit)
            #expect(settings.defaultCallbackURLs == ["https://hooks.example.com/videos"])
            #expect(settings.webhookRetryScheduleSeconds == [1, 2])
            #expect(settings.allowedNetworks.map(\.description) == ["10.0.0.0/8", "fd00::/8"])
            #expect(settings.logLevel == .debug)
            #expect(settings.pipelinePolicy.webhookRetries.delays == [.seconds(1), .seconds(2)])
        }
    }

    @Test(arguments: [
        ("api:\n  max_concurent_requests: 4\n", "api.max_concurent_requests", "did you mean 'api.max_concurrent_requests'?"),
        ("spool:\n  dir: /x\n", "spool.dir", "unknown setting"),
        ("api:\n  max_concurrent_requests: lots\n", "api.max_concurrent_requests", "whole number"),
        ("api:\n  max_concurrent_requests: 0\n", "api.max_concurrent_requests", "between 1 and 1024"),
        ("api:\n  poll:\n    interval_seconds: soon\n", "api.poll.interval_seconds", "number of seconds"),
        ("api:\n  max_requests_per_second: fast\n", "api.max_requests_per_second", "must be a number"),
        ("api:\n  max_requests_per_second: 0\n", "api.max_requests_per_second", "between 0.01 and"),
        ("api:\n  ambiguous_submit_policy: maybe\n", "api.ambiguous_submit_policy", "'fail' or 'resubmit'"),
        ("api:\n  poll:\n    schedule: clever\n", "api.poll.schedule", "'learned' or 'fixed'"),
        ("api:\n  poll:\n    dense_interval_seconds: 0\n", "api.poll.dense_interval_seconds", "between"),
        ("api:\n  base_url: ftp://api.example.com\n", "api.base_url", "only http and https"),
        ("api:\n  base_url: https://api.example.com/v2\n", "api.base_url", "without a path"),
        ("spool:\n  directory: relative/path\n", "spool.directory", "absolute path"),
        ("webhooks:\n  allow_private_networks: sometimes\n", "webhooks.allow_private_networks", "true or false"),
        ("webhooks:\n  retry_schedule_seconds: [5, -1]\n", "webhooks.retry_schedule_seconds[1]", "between 0 and"),
        ("webhooks:\n  default_urls: [ftp://x.example/]\n", "webhooks.default_urls[0]", "only http and https"),
        ("webhooks:\n  default_urls: https://x.example/\n", "webhooks.default_urls", "must be a list"),
        ("webhooks:\n  allowed_networks: [10.0.0.0/33]\n", "webhooks.allowed_networks[0]", "not a CIDR"),
        ("log:\n  level: loud\n", "log.level", "must be one of"),
        ("webhooks:\n  default_urls:\n    - url: https://x.example/\n", "webhooks.default_urls", "must be a list of values"),
        ("api:\n  max_concurrent_requests: [4]\n", "api.max_concurrent_requests", "single value"),
        // Stops must fit under the unit's TimeoutStopSec=60s (these loaded before issue 10).
        ("api:\n  request_timeout_seconds: 41\n", "api.request_timeout_seconds", "between 0.1 and 40.0 seconds"),
        ("api:\n  request_timeout_seconds: 600\n", "api.request_timeout_seconds", "between 0.1 and 40.0 seconds"),
        ("webhooks:\n  timeout_seconds: 60\n", "webhooks.timeout_seconds", "between 0.1 and 40.0 seconds"),
    ])
    func aBadSettingIsAnErrorNamingItsKey(yaml: String, key: String, message: String) async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/videospool.yaml"
            try write(yaml, to: path)
            let error = await #expect(throws: ConfigurationError.self) {
                try await SettingsLoader.loadSettings(path: path)
            }
            #expect(error?.key == key)
            #expect(error?.description.contains(message) == true, "\(error?.description ?? "-")")
        }
    }

    @Test(arguments: [
        ("models:\n  directory: models.d\n", "models.directory", "absolute path"),
        ("models:\n  allow_unlisted: maybe\n", "models.allow_unlisted", "true or false"),
        ("models:\n  allow_unlisted_models: true\n", "models.allow_unlisted_models", "did you mean 'models.allow_unlisted'?"),
    ])
    func aBadModelsSettingIsAnErrorNamingItsKey(yaml: String, key: String, message: String) async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/videospool.yaml"
            try write(yaml, to: path)
            let error = await #expect(throws: ConfigurationError.self) { try await SettingsLoader.loadSettings(path: path) }
            #expect(error?.key == key)
            #expect(error?.description.contains(message) == true, "\(error?.description ?? "-")")
        }
    }

    @Test func theModelsSettingsReachTheValidator() async throws {
        try await withTemporaryDirectory { directory in
            try FileManager.default.createDirectory(atPath: directory + "/models.d", withIntermediateDirectories: true)
            try write(
                #"{"model": "acme/x", "required": ["model", "prompt"], "properties": {"prompt": {"type": "string"}}}"#,
                to: directory + "/models.d/acme.json"
            )
            let path = directory + "/videospool.yaml"
            try write("models:\n  directory: \(directory)/models.d\n  allow_unlisted: true\n", to: path)
            let settings = try await SettingsLoader.loadSettings(path: path)
            #expect(settings.allowUnlistedModels)
            #expect(settings.models.entry(for: "acme/x")?.source == .file(directory + "/models.d/acme.json"))
            #expect(settings.models.count == ModelCatalog.builtIn.count + 1)
            #expect(settings.summary.contains("models.directory: \(directory)/models.d (5 built-in, 1 from files)"))
            #expect(DaemonSettings().allowUnlistedModels == false)
        }
    }

    /// No accepted configuration lets a stop outlast the unit's TimeoutStopSec: the graceful limit
    /// covers the longest request on the wire, and cancellation after it is bounded too.
    @Test func everyAcceptedConfigurationStopsWithinTheUnitsStopTimeout() async throws {
        let unit = try String(contentsOfFile: packageRoot + "/systemd/videospool.service.in", encoding: .utf8)
        let line = try #require(unit.split(separator: "\n").first { $0.hasPrefix("TimeoutStopSec=") })
        let stopTimeout = Duration.seconds(try #require(Int(line.dropFirst("TimeoutStopSec=".count).dropLast())))
        #expect(line.hasSuffix("s"))

        try await withTemporaryDirectory { directory in
            let path = directory + "/videospool.yaml"
            let longest = DaemonSettings.maximumRequestTimeoutSeconds
            try write("api:\n  request_timeout_seconds: \(longest)\nwebhooks:\n  timeout_seconds: \(longest)\n", to: path)
            let settings = try await SettingsLoader.loadSettings(path: path)
            // Every request in flight when the stop begins can finish inside the limit...
            #expect(settings.gracefulShutdownLimit >= .seconds(double: longest) + .seconds(5))
            // ...and the whole stop, cancellation included, ends well before systemd's SIGKILL.
            let worstStop = settings.gracefulShutdownLimit + Daemon.cancellationLimit
            #expect(worstStop <= stopTimeout - .seconds(10), "worst stop \(worstStop) against TimeoutStopSec \(stopTimeout)")
        }
        #expect(DaemonSettings().gracefulShutdownLimit == .seconds(35), "the defaults: 30 s requests + 5 s")
        var slowWebhooks = DaemonSettings()
        slowWebhooks.requestTimeoutSeconds = 10
        slowWebhooks.webhookTimeoutSeconds = 25
        #expect(slowWebhooks.gracefulShutdownLimit == .seconds(30), "a webhook attempt on the wire may finish too")
    }

    /// `key:` and `key: ~` are YAML's null: the setting keeps its default.
    @Test func aNullValueKeepsTheDefault() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/videospool.yaml"
            try write("api:\n  max_concurrent_requests:\n  poll:\n    interval_seconds: ~\n", to: path)
            let settings = try await SettingsLoader.loadSettings(path: path)
            #expect(settings.maximumConcurrentRequests == DaemonSettings().maximumConcurrentRequests)
            #expect(settings.pollIntervalSeconds == DaemonSettings().pollIntervalSeconds)
        }
    }

    @Test func invalidYAMLIsAnError() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/videospool.yaml"
            try write("api: [unclosed\n", to: path)
            let error = await #expect(throws: ConfigurationError.self) { try await SettingsLoader.loadSettings(path: path) }
            #expect(error?.description.contains("not valid YAML") == true)
        }
    }

    @Test func anExplicitFileThatDoesNotExistIsAnError() async throws {
        let error = await #expect(throws: ConfigurationError.self) {
            try await SettingsLoader.loadSettings(path: "/nonexistent/videospool.yaml")
        }
        #expect(error?.description.contains("does not exist") == true)
    }

    @Test func theExitStatusForConfigurationErrorsIsEXCONFIG() {
        #expect(ConfigurationError.exitStatus == 78)
    }
}

struct CredentialsTests {
    @Test func theKeyFileWinsOverTheCredentialDirectoryAndTheEnvironment() async throws {
        try await withTemporaryDirectory { directory in
            try write("from-file-key\n", to: directory + "/key")
            try write(testSecretText + "\n", to: directory + "/secret")
            try FileManager.default.createDirectory(atPath: directory + "/credentials", withIntermediateDirectories: true)
            try write("from-credential-key", to: directory + "/credentials/api-key")
            var settings = DaemonSettings()
            settings.apiKeyFile = directory + "/key"
            settings.webhookSecretFile = directory + "/secret"
            let credentials = try Credentials.resolve(
                settings: settings,
                environment: ["CREDENTIALS_DIRECTORY": directory + "/credentials", "AIMLAPI_API_KEY": "from-env"]
            )
            #expect(credentials.apiKey == "from-file-key")
        }
    }

    @Test func theSystemdCredentialIsUsedBeforeTheEnvironment() async throws {
        try await withTemporaryDirectory { directory in
            try write("from-credential-key\n", to: directory + "/api-key")
            try write(testSecretText, to: directory + "/webhook-secret")
            let credentials = try Credentials.resolve(
                settings: DaemonSettings(),
                environment: ["CREDENTIALS_DIRECTORY": directory, "AIMLAPI_API_KEY": "from-env"]
            )
            #expect(credentials.apiKey == "from-credential-key")
            #expect(credentials.webhookSecret == (try WebhookSecret(parsing: testSecretText)))
        }
    }

    @Test func theEnvironmentIsTheLastResort() throws {
        let credentials = try Credentials.resolve(
            settings: DaemonSettings(),
            environment: ["AIMLAPI_API_KEY": "env-key", "VIDEOSPOOL_WEBHOOK_SECRET": testSecretText]
        )
        #expect(credentials.apiKey == "env-key")
        #expect(!credentials.description.contains("env-key"))
        #expect(!credentials.description.contains("MfKQ9r8"))
    }

    @Test func aMissingKeyNamesWhereItWasLookedFor() {
        let error = #expect(throws: ConfigurationError.self) {
            try Credentials.resolve(settings: DaemonSettings(), environment: [:])
        }
        #expect(error?.key == "api.key_file")
        #expect(error?.description.contains("AIMLAPI_API_KEY") == true)
        #expect(error?.description.contains("api-key") == true)
    }

    @Test(arguments: ["not-a-secret", "whsec_!!!", "whsec_c2hvcnQ="])
    func aMalformedSecretNamesItsKey(secret: String) {
        let error = #expect(throws: ConfigurationError.self) {
            try Credentials.resolve(
                settings: DaemonSettings(),
                environment: ["AIMLAPI_API_KEY": "k", "VIDEOSPOOL_WEBHOOK_SECRET": secret]
            )
        }
        #expect(error?.key == "webhooks.secret_file")
        #expect(error?.description.contains(secret) == false, "the secret is not echoed")
    }

    @Test func aKeyWithSpacesIsRejected() {
        let error = #expect(throws: ConfigurationError.self) {
            try Credentials.resolve(
                settings: DaemonSettings(),
                environment: ["AIMLAPI_API_KEY": "two words", "VIDEOSPOOL_WEBHOOK_SECRET": testSecretText]
            )
        }
        #expect(error?.key == "api.key_file")
    }
}
