public import Configuration
import VideoSpoolPostgres
import Logging
import VideoSpoolCore

extension DaemonSettings {
    /// Reads every key from `config`, strictly: a value of the wrong type or out of range is an
    /// error naming the key, never silently replaced by the default.
    ///
    /// ## Configuration keys
    /// See ``DaemonSettings/knownKeys`` and the annotated `etc/videospool/videospool.yaml`.
    public init(config: ConfigReader) throws(ConfigurationError) {
        self.init()
        let reader = StrictReader(config: config)
        spoolDirectory = try reader.path("spool.directory", default: spoolDirectory)
        maximumRequestBytes = try reader.int("spool.max_request_bytes", default: maximumRequestBytes, in: 64...(1 << 30))
        settleSeconds = try reader.seconds("spool.settle_seconds", default: settleSeconds, in: 0...3600)
        rescanIntervalSeconds = try reader.seconds("spool.rescan_interval_seconds", default: rescanIntervalSeconds, in: 0.05...86400)
        duplicateWindowSeconds = try reader.seconds(
            "spool.duplicate_window_seconds",
            default: duplicateWindowSeconds,
            in: 0...(30 * 86400)
        )
        stateDirectory = try reader.path("state.directory", default: stateDirectory)
        retentionDays = try reader.int("state.retention_days", default: retentionDays, in: 0...36500)
        let backend = try reader.string("state.backend", default: storeBackend.rawValue)
        guard let parsedBackend = StoreBackend(rawValue: backend) else {
            throw ConfigurationError(key: "state.backend", "must be 'sqlite' or 'postgresql' (got '\(backend)')")
        }
        storeBackend = parsedBackend
        postgresql = try PostgresStoreConfiguration.Values(reader: reader)

        apiBaseURL = try reader.string("api.base_url", default: apiBaseURL)
        do {
            let url = try HTTPURL(parsing: apiBaseURL)
            if url.pathAndQuery != "/" {
                throw ConfigurationError(key: "api.base_url", "must be scheme://host[:port] without a path (got '\(apiBaseURL)')")
            }
        } catch let error as HTTPURL.ParseError {
            throw ConfigurationError(key: "api.base_url", "'\(apiBaseURL)' \(error.message)")
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw ConfigurationError(key: "api.base_url", "\(error)")
        }
        apiBaseURL = apiBaseURL.hasSuffix("/") ? String(apiBaseURL.dropLast()) : apiBaseURL
        apiKeyFile = try reader.optionalPath("api.key_file")
        maximumConcurrentRequests = try reader.int(
            "api.max_concurrent_requests",
            default: maximumConcurrentRequests,
            in: 1...Self.maximumConcurrentRequestsLimit
        )
        maximumRequestsPerSecond = try reader.number(
            "api.max_requests_per_second",
            default: maximumRequestsPerSecond,
            in: 0.01...1_000_000
        )
        maximumInFlightGenerations = try reader.int(
            "api.max_in_flight_generations",
            default: maximumInFlightGenerations,
            in: 1...1_000_000
        )
        // Bounded so that a stop always fits under the unit's TimeoutStopSec (see gracefulShutdownLimit).
        requestTimeoutSeconds = try reader.seconds(
            "api.request_timeout_seconds",
            default: requestTimeoutSeconds,
            in: 0.1...Self.maximumRequestTimeoutSeconds
        )
        let schedule = try reader.string("api.poll.schedule", default: pollScheduleMode.rawValue)
        guard let parsedSchedule = PollSchedule.Mode(rawValue: schedule) else {
            throw ConfigurationError(key: "api.poll.schedule", "must be 'learned' or 'fixed' (got '\(schedule)')")
        }
        pollScheduleMode = parsedSchedule
        pollDenseIntervalSeconds = try reader.seconds(
            "api.poll.dense_interval_seconds",
            default: pollDenseIntervalSeconds,
            in: 0.1...3600
        )
        pollFirstDelaySeconds = try reader.seconds("api.poll.first_delay_seconds", default: pollFirstDelaySeconds, in: 0...86400)
        pollIntervalSeconds = try reader.seconds("api.poll.interval_seconds", default: pollIntervalSeconds, in: 0.01...86400)
        pollDeadlineSeconds = try reader.seconds("api.poll.deadline_seconds", default: pollDeadlineSeconds, in: 1...(30 * 86400))
        let policy = try reader.string("api.ambiguous_submit_policy", default: ambiguousSubmissionPolicy.rawValue)
        guard let parsedPolicy = AmbiguousSubmissionPolicy(rawValue: policy) else {
            throw ConfigurationError(key: "api.ambiguous_submit_policy", "must be 'fail' or 'resubmit' (got '\(policy)')")
        }
        ambiguousSubmissionPolicy = parsedPolicy
        queueLifetimeSeconds = try reader.seconds("api.queue_lifetime_seconds", default: queueLifetimeSeconds, in: 1...(365 * 86400))
        pauseSeconds = try reader.seconds("api.pause_seconds", default: pauseSeconds, in: 0.01...86400)

        webhookSecretFile = try reader.optionalPath("webhooks.secret_file")
        defaultCallbackURLs = try reader.strings("webhooks.default_urls", default: [])
        for (index, url) in defaultCallbackURLs.enumerated() {
            do {
                _ = try HTTPURL(parsing: url)
            } catch {
                throw ConfigurationError(key: "webhooks.default_urls[\(index)]", "'\(HTTPURL.redacting(url))' \(error.message)")
            }
        }
        webhookTimeoutSeconds = try reader.seconds(
            "webhooks.timeout_seconds",
            default: webhookTimeoutSeconds,
            in: 0.1...Self.maximumRequestTimeoutSeconds
        )
        webhookRetryScheduleSeconds = try reader.secondsList(
            "webhooks.retry_schedule_seconds",
            default: webhookRetryScheduleSeconds
        )
        allowPrivateNetworks = try reader.bool("webhooks.allow_private_networks", default: allowPrivateNetworks)
        allowedNetworks = []
        for (index, text) in try reader.strings("webhooks.allowed_networks", default: []).enumerated() {
            guard let cidr = CIDR(text) else {
                throw ConfigurationError(key: "webhooks.allowed_networks[\(index)]", "'\(text)' is not a CIDR such as 10.0.0.0/8")
            }
            allowedNetworks.append(cidr)
        }
        maximumConcurrentDeliveries = try reader.int(
            "webhooks.max_concurrent_deliveries",
            default: maximumConcurrentDeliveries,
            in: 1...4096
        )

        storeVideos = try reader.bool("results.download", default: storeVideos)
        resultsDirectorySetting = try reader.optionalPath("results.directory")
        maximumVideoBytes = Int64(
            try reader.int("results.max_bytes", default: Int(maximumVideoBytes), in: 1024...(1 << 40))
        )
        downloadDeadlineSeconds = try reader.seconds(
            "results.deadline_seconds",
            default: downloadDeadlineSeconds,
            in: 1...(7 * 86400)
        )
        maximumConcurrentDownloads = try reader.int(
            "results.max_concurrent",
            default: maximumConcurrentDownloads,
            in: 1...1024
        )
        announceAfterDownload = try reader.bool("results.announce_after_download", default: announceAfterDownload)
        keepLocal = try reader.bool("results.keep_local", default: keepLocal)
        s3 = try S3Settings.read(config: config)
        if s3 != nil, !storeVideos {
            throw ConfigurationError(key: "results.download", "must be true with results.s3: only stored videos are uploaded")
        }
        if !keepLocal, s3 == nil {
            throw ConfigurationError(key: "results.keep_local", "false needs results.s3: without object storage the local copy is the only one")
        }

        modelsDirectory = try reader.path("models.directory", default: modelsDirectory)
        allowUnlistedModels = try reader.bool("models.allow_unlisted", default: allowUnlistedModels)

        budget = try BudgetSettings(reader: reader)

        let level = try reader.string("log.level", default: logLevel.rawValue).lowercased()
        guard let parsedLevel = Logger.Level(rawValue: level) else {
            let levels = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
            throw ConfigurationError(key: "log.level", "must be one of \(levels) (got '\(level)')")
        }
        logLevel = parsedLevel

        let listen = try reader.string("metrics.listen", default: "")
        metricsListen = listen.isEmpty ? nil : try MetricsListenAddress(parsing: listen)
    }
}

/// Typed, strict access to a `ConfigReader`: presence is checked first, then the value must
/// convert, so a typo in a value is an error instead of a silent default.
struct StrictReader {
    let config: ConfigReader

    private func present(_ key: String) -> Bool {
        config.string(forKey: ConfigKey(key)) != nil || config.stringArray(forKey: ConfigKey(key)) != nil
    }

    /// Whether `key` has a value (of any type).
    func isPresent(_ key: String) -> Bool { present(key) }

    func string(_ key: String, default value: String) throws(ConfigurationError) -> String {
        guard present(key) else { return value }
        guard let text = config.string(forKey: ConfigKey(key)) else {
            throw ConfigurationError(key: key, "must be a single value, not a list")
        }
        return text
    }

    func path(_ key: String, default value: String) throws(ConfigurationError) -> String {
        let text = try string(key, default: value)
        guard text.hasPrefix("/") else { throw ConfigurationError(key: key, "must be an absolute path (got '\(text)')") }
        return text
    }

    func optionalPath(_ key: String) throws(ConfigurationError) -> String? {
        guard present(key) else { return nil }
        let text = try string(key, default: "")
        if text.isEmpty { return nil }
        guard text.hasPrefix("/") else { throw ConfigurationError(key: key, "must be an absolute path (got '\(text)')") }
        return text
    }

    func int(_ key: String, default value: Int, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard present(key) else { return value }
        let text = try string(key, default: "")
        guard let number = Int(text) else { throw ConfigurationError(key: key, "must be a whole number (got '\(text)')") }
        guard range.contains(number) else {
            throw ConfigurationError(key: key, "must be between \(range.lowerBound) and \(range.upperBound) (got \(number))")
        }
        return number
    }

    func seconds(_ key: String, default value: Double, in range: ClosedRange<Double>) throws(ConfigurationError) -> Double {
        guard present(key) else { return value }
        let text = try string(key, default: "")
        guard let number = Double(text), number.isFinite else {
            throw ConfigurationError(key: key, "must be a number of seconds (got '\(text)')")
        }
        guard range.contains(number) else {
            throw ConfigurationError(key: key, "must be between \(range.lowerBound) and \(range.upperBound) seconds (got \(text))")
        }
        return number
    }

    func number(_ key: String, default value: Double, in range: ClosedRange<Double>) throws(ConfigurationError) -> Double {
        guard present(key) else { return value }
        let text = try string(key, default: "")
        guard let number = Double(text), number.isFinite else {
            throw ConfigurationError(key: key, "must be a number (got '\(text)')")
        }
        guard range.contains(number) else {
            throw ConfigurationError(key: key, "must be between \(range.lowerBound) and \(range.upperBound) (got \(text))")
        }
        return number
    }

    func bool(_ key: String, default value: Bool) throws(ConfigurationError) -> Bool {
        guard present(key) else { return value }
        let text = try string(key, default: "").lowercased()
        switch text {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw ConfigurationError(key: key, "must be true or false (got '\(text)')")
        }
    }

    func strings(_ key: String, default value: [String]) throws(ConfigurationError) -> [String] {
        guard present(key) else { return value }
        if let list = config.stringArray(forKey: ConfigKey(key)) { return list }
        throw ConfigurationError(key: key, "must be a list (YAML: [a, b] or one '- item' per line)")
    }

    func secondsList(_ key: String, default value: [Double]) throws(ConfigurationError) -> [Double] {
        let texts = try strings(key, default: value.map { String($0) })
        return try texts.enumerated().map { (index, text) throws(ConfigurationError) -> Double in
            guard let number = Double(text), number.isFinite, number > 0, number <= 7 * 86400 else {
                throw ConfigurationError(key: "\(key)[\(index)]", "must be a number of seconds between 0 and 604800 (got '\(text)')")
            }
            return number
        }
    }
}

extension PostgresStoreConfiguration.Values {
    /// The `state.postgresql.*` keys as written (types checked; ranges and the password are checked
    /// by ``PostgresStoreConfiguration/parse(_:readFile:fileExists:)`` when the backend is used).
    init(reader: StrictReader) throws(ConfigurationError) {
        func optional<Value>(_ key: String, _ read: (String) throws(ConfigurationError) -> Value) throws(ConfigurationError) -> Value? {
            reader.isPresent(key) ? try read(key) : nil
        }
        self.init(
            url: try optional("state.postgresql.url") { key throws(ConfigurationError) in try reader.string(key, default: "") },
            passwordFile: try reader.optionalPath("state.postgresql.password_file"),
            schema: try optional("state.postgresql.schema") { key throws(ConfigurationError) in try reader.string(key, default: "") },
            leaseSeconds: try optional("state.postgresql.lease_seconds") { key throws(ConfigurationError) in
                try reader.seconds(key, default: 0, in: 0...86400)
            },
            reaperIntervalSeconds: try optional("state.postgresql.reaper_interval_seconds") { key throws(ConfigurationError) in
                try reader.seconds(key, default: 0, in: 0...86400)
            },
            claimIntervalSeconds: try optional("state.postgresql.claim_interval_seconds") { key throws(ConfigurationError) in
                try reader.seconds(key, default: 0, in: 0...86400)
            },
            submitGraceSeconds: try optional("state.postgresql.submit_grace_seconds") { key throws(ConfigurationError) in
                try reader.seconds(key, default: 0, in: 0...86400)
            },
            listen: try optional("state.postgresql.listen") { key throws(ConfigurationError) in try reader.bool(key, default: true) },
            maximumConnections: try optional("state.postgresql.max_connections") { key throws(ConfigurationError) in
                try reader.int(key, default: 0, in: 0...100_000)
            },
            statementTimeoutSeconds: try optional("state.postgresql.statement_timeout_seconds") { key throws(ConfigurationError) in
                try reader.seconds(key, default: 0, in: 0...86400)
            }
        )
    }
}

extension BudgetSettings {
    /// `budget.*`; a limit is off unless set (0 stops all submissions).
    init(reader: StrictReader) throws(ConfigurationError) {
        self.init()
        let money = 0...1_000_000_000.0
        if reader.isPresent("budget.max_usd_per_day") {
            maxUSDPerDay = try reader.number("budget.max_usd_per_day", default: 0, in: money)
        }
        if reader.isPresent("budget.max_usd_per_month") {
            maxUSDPerMonth = try reader.number("budget.max_usd_per_month", default: 0, in: money)
        }
        if reader.isPresent("budget.max_generations_per_hour") {
            maxGenerationsPerHour = try reader.int("budget.max_generations_per_hour", default: 0, in: 0...10_000_000)
        }
        defaultEstimateUSD = try reader.number(
            "budget.default_estimate_usd",
            default: defaultEstimateUSD,
            in: 0...1_000_000
        )
        creditsPerUSD = try reader.number("budget.credits_per_usd", default: creditsPerUSD, in: 1...1e15)
    }
}
