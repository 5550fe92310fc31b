import Foundation
import Logging
import Testing
import VideoSpoolApp
import VideoSpoolCore
import VideoSpoolObjectStorage
import VideoSpoolRuntime
import VideoSpoolSimulator
import VideoSpoolSystemd
import VideoSpoolTesting

struct ReloadTests {
    static let variables = ["AIMLAPI_API_KEY": "reload-key", "VIDEOSPOOL_WEBHOOK_SECRET": testSecretText]

    static func config(
        root: String,
        spool: String,
        requests: Int,
        generations: Int,
        level: String,
        perSecond: Double = 1000,
        baseURL: String = "http://127.0.0.1:9"
    ) -> String {
        """
        spool:
          directory: \(root)/\(spool)
        state:
          directory: \(root)/state
        api:
          base_url: \(baseURL)
          max_concurrent_requests: \(requests)
          max_in_flight_generations: \(generations)
          max_requests_per_second: \(perSecond)
        log:
          level: \(level)
        """
    }

    @Test func aReloadAppliesLiveSettingsAndKeepsRestartOnlyOnes() async throws {
        try await withTemporaryDirectory { root in
            let path = root + "/videospool.yaml"
            try write(Self.config(root: root, spool: "spool", requests: 2, generations: 3, level: "info"), to: path)
            let (settings, credentials) = try await SettingsLoader.load(path: path, environment: Self.variables)
            let notifier = RecordingNotifier()
            let logSettings = LogSettings(level: settings.logLevel)
            let daemon = try Daemon.make(
                settings: settings,
                credentials: credentials,
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
                environment: Daemon.Environment(
                    logSettings: logSettings,
                    notifier: notifier,
                    configPath: path,
                    variables: Self.variables
                )
            )
            #expect(daemon.pipeline.requestSlots.available == 2)

            #expect(daemon.pipeline.rateLimiter.requestsPerSecond == 1000)

            try write(
                Self.config(root: root, spool: "elsewhere", requests: 5, generations: 7, level: "debug", perSecond: 20),
                to: path
            )
            #expect(await daemon.reload())
            #expect(daemon.pipeline.requestSlots.available == 5)
            #expect(daemon.pipeline.rateLimiter.requestsPerSecond == 20)
            #expect(daemon.pipeline.rateLimiter.status.maximumConcurrency == 5)
            #expect(daemon.pipeline.generationSlots.available == 7)
            #expect(logSettings.level == .debug)
            #expect(daemon.settings.maximumConcurrentRequests == 5)
            #expect(daemon.settings.spoolDirectory == root + "/spool", "spool.directory needs a restart")
            let sent = notifier.sent.flatMap { $0 }
            let reloading = try #require(sent.firstIndex { if case .reloading = $0 { return true } else { return false } })
            #expect(sent[reloading...].contains(.ready))

            try write("api:\n  max_concurrent_requests: lots\n", to: path)
            #expect(await daemon.reload() == false)
            #expect(daemon.pipeline.requestSlots.available == 5, "a bad configuration keeps the running one")
            #expect(notifier.sent.last?.first == .ready, "systemd is told the reload is over either way")
            try await daemon.shutdown()
        }
    }

    @Test func aReloadUpdatesObjectStorageAndScrubsItsNewSecret() async throws {
        try await withTemporaryDirectory { root in
            let path = root + "/videospool.yaml"
            let base = Self.config(root: root, spool: "spool", requests: 2, generations: 3, level: "info")
            func s3(presign: Int, secret: String) throws -> String {
                try write("AKIDEXAMPLE\n", to: root + "/s3-id")
                try write(secret + "\n", to: root + "/s3-secret")
                return """
                    results:
                      keep_local: false
                      s3:
                        endpoint: http://127.0.0.1:9
                        bucket: videos
                        addressing_style: path
                        presign_seconds: \(presign)
                        access_key_id_file: \(root)/s3-id
                        secret_access_key_file: \(root)/s3-secret
                    """
            }
            let firstSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
            try write(base + "\n" + (try s3(presign: 3600, secret: firstSecret)), to: path)
            let (settings, credentials) = try await SettingsLoader.load(path: path, environment: Self.variables)
            let logSettings = LogSettings(level: settings.logLevel)
            let daemon = try Daemon.make(
                settings: settings,
                credentials: credentials,
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
                environment: Daemon.Environment(logSettings: logSettings, configPath: path, variables: Self.variables)
            )
            let storage = try #require(daemon.objectStorage?.storage)
            #expect(storage.configuration.presignSeconds == 3600)
            #expect(!logSettings.scrubber.scrub("leaked \(firstSecret)").contains(firstSecret))

            let secondSecret = "a-rotated-secret-0123456789abcdefghijklmnop"
            try write(base + "\n" + (try s3(presign: 600, secret: secondSecret)), to: path)
            #expect(await daemon.reload())
            #expect(storage.configuration.presignSeconds == 600)
            #expect(!logSettings.scrubber.scrub("leaked \(secondSecret)").contains(secondSecret), "the new secret is scrubbed")
            #expect(!daemon.pipeline.context.policy.videoStorage.keepLocal)
            try await daemon.shutdown()
        }
    }

    @Test func turningObjectStorageOnByReloadWaitsForARestart() async throws {
        try await withTemporaryDirectory { root in
            let path = root + "/videospool.yaml"
            let base = Self.config(root: root, spool: "spool", requests: 2, generations: 3, level: "info")
            try write(base, to: path)
            let (settings, credentials) = try await SettingsLoader.load(path: path, environment: Self.variables)
            let daemon = try Daemon.make(
                settings: settings,
                credentials: credentials,
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
                environment: Daemon.Environment(logSettings: LogSettings(level: .info), configPath: path, variables: Self.variables)
            )
            try write("AKIDEXAMPLE\n", to: root + "/s3-id")
            try write("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\n", to: root + "/s3-secret")
            let s3 = """
                results:
                  s3:
                    bucket: videos
                    access_key_id_file: \(root)/s3-id
                    secret_access_key_file: \(root)/s3-secret
                """
            try write(base + "\n" + s3, to: path)
            let (reloaded, reloadedCredentials) = try await SettingsLoader.load(path: path, environment: Self.variables)
            #expect(daemon.apply(reloaded, credentials: reloadedCredentials) == ["results.s3"])
            #expect(daemon.settings.s3 == nil, "still off until the next start")
            #expect(daemon.objectStorage == nil)
            try await daemon.shutdown()
        }
    }

    @Test func httpVideoLinksFollowTheBaseURLInUseNotAReloadedOne() async throws {
        try await withTemporaryDirectory { root in
            let path = root + "/videospool.yaml"
            try write(Self.config(root: root, spool: "spool", requests: 2, generations: 3, level: "info"), to: path)
            let (settings, credentials) = try await SettingsLoader.load(path: path, environment: Self.variables)
            let daemon = try Daemon.make(
                settings: settings,
                credentials: credentials,
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
                environment: Daemon.Environment(
                    logSettings: LogSettings(level: settings.logLevel),
                    notifier: RecordingNotifier(),
                    configPath: path,
                    variables: Self.variables
                )
            )
            #expect(daemon.pipeline.context.policy.acceptsHTTPVideoURLs, "api.base_url is http")
            let https = Self.config(
                root: root,
                spool: "spool",
                requests: 2,
                generations: 3,
                level: "info",
                baseURL: "https://api.example.com"
            )
            try write(https, to: path)
            #expect(await daemon.reload())
            #expect(daemon.pipeline.context.policy.acceptsHTTPVideoURLs, "the daemon still talks to the http API")
            try await daemon.shutdown()
        }
    }

    /// `api.max_concurrent_requests` raised on reload reaches the API: the HTTP client's connection
    /// pool, fixed when the client is made, must not hold it at the old value.
    @Test(.timeLimit(.minutes(2)))
    func aReloadedConcurrencyLimitReachesTheAPI() async throws {
        try await withTemporaryDirectory { root in
            let simulator = EndToEndTests.simulator(generation: .seconds(600), key: "reload-key")
            try await simulator.withRunningServer { port in
                let path = root + "/videospool.yaml"
                @Sendable func config(requests: Int) -> String {
                    Self.config(root: root, spool: "spool", requests: requests, generations: 32, level: "info")
                        .replacingOccurrences(of: "http://127.0.0.1:9", with: "http://127.0.0.1:\(port)")
                        .replacingOccurrences(of: "spool:\n", with: "spool:\n  settle_seconds: 0\n")
                }
                try write(config(requests: 2), to: path)
                let (settings, credentials) = try await SettingsLoader.load(path: path, environment: Self.variables)
                let daemon = try Daemon.make(
                    settings: settings,
                    credentials: credentials,
                    logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
                    environment: Daemon.Environment(
                        logSettings: LogSettings(level: settings.logLevel),
                        configPath: path,
                        variables: Self.variables
                    )
                )
                try await daemon.run { daemon in
                    try write(config(requests: 6), to: path)
                    #expect(await daemon.reload())
                    // Every submission takes a while, so they pile up to the limit.
                    simulator.api.setFaults([FaultRule(endpoint: .submit, fault: .delay(.seconds(2)), remaining: 12)])
                    for index in 0..<12 {
                        let incoming = root + "/spool/incoming/"
                        try write(String(decoding: TestRequests.seedance(prompt: "pool \(index)", callbackURL: nil), as: UTF8.self), to: incoming + ".r\(index).tmp")
                        try FileManager.default.moveItem(atPath: incoming + ".r\(index).tmp", toPath: incoming + "r\(index).json")
                    }
                    try await eventually(timeout: .seconds(60), "six API requests at once") {
                        simulator.api.statistics.peakConcurrency >= 6
                    }
                }
                #expect(simulator.api.statistics.peakConcurrency == 6, "never more than the limit")
            }
        }
    }
}
