import Foundation
import Logging
import Testing
import VideoSpoolApp
import VideoSpoolCore
import VideoSpoolRuntime
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
}
