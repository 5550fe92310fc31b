import Foundation
import Testing
import VideoSpoolApp
import VideoSpoolCore
import VideoSpoolObjectStorage

/// `results.*`: storing videos before the announcement.
struct ResultsSettingsTests {
    @Test func videosAreStoredUnderTheStateDirectoryByDefault() {
        var settings = DaemonSettings()
        #expect(settings.storeVideos)
        #expect(settings.announceAfterDownload)
        #expect(settings.maximumVideoBytes == 2 * 1024 * 1024 * 1024)
        #expect(settings.downloadDeadlineSeconds == 3600)
        #expect(settings.resultsDirectory == "/var/lib/videospool/videos")
        settings.stateDirectory = "/srv/state"
        #expect(settings.resultsDirectory == "/srv/state/videos", "follows state.directory")
        let storage = settings.pipelinePolicy.videoStorage
        #expect(storage.holdsAnnouncement)
        #expect(storage.retry.deadline == .seconds(3600))
    }

    @Test func everyResultsKeyIsRead() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/videospool.yaml"
            try write(
                """
                api:
                  base_url: http://127.0.0.1:9
                results:
                  download: true
                  directory: \(directory)/kept
                  max_bytes: 1048576
                  deadline_seconds: 120
                  max_concurrent: 2
                  announce_after_download: false
                """,
                to: path
            )
            let settings = try await SettingsLoader.loadSettings(path: path)
            #expect(settings.resultsDirectory == directory + "/kept")
            #expect(settings.maximumVideoBytes == 1_048_576)
            #expect(settings.downloadDeadlineSeconds == 120)
            #expect(settings.maximumConcurrentDownloads == 2)
            #expect(!settings.announceAfterDownload)
            let storage = settings.pipelinePolicy.videoStorage
            #expect(storage.storesAfterAnnouncement && !storage.holdsAnnouncement)
            #expect(storage.retry.deadline == .seconds(120))
            #expect(settings.summary.contains { $0.hasPrefix("results.download: true (to \(directory)/kept") })
        }
    }

    @Test(arguments: [
        ("directory: relative/videos", "results.directory"),
        ("max_bytes: 10", "results.max_bytes"),
        ("deadline_seconds: 0", "results.deadline_seconds"),
        ("max_concurrent: 0", "results.max_concurrent"),
        ("download: maybe", "results.download"),
    ])
    func aBadResultsValueNamesItsKey(line: String, key: String) async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/videospool.yaml"
            try write("results:\n  \(line)\n", to: path)
            let error = await #expect(throws: ConfigurationError.self) { try await SettingsLoader.loadSettings(path: path) }
            #expect(error?.key == key)
        }
    }

    @Test func theUnitCreatesTheDefaultResultsDirectoryInsideItsStateDirectory() throws {
        let unit = try String(contentsOfFile: packageRoot + "/systemd/videospool.service.in", encoding: .utf8)
        let line = try #require(unit.split(separator: "\n").first { $0.hasPrefix("StateDirectory=") })
        #expect(line.split(separator: "=")[1].split(separator: " ").contains("videospool/videos"))
        #expect(DaemonSettings().resultsDirectory == "/var/lib/videospool/videos")
    }

    @Test func objectStorageIsOffUnlessConfiguredAndKeepsTheLocalCopyByDefault() {
        let settings = DaemonSettings()
        #expect(settings.s3 == nil)
        #expect(settings.keepLocal)
        #expect(settings.pipelinePolicy.videoStorage.keepLocal)
        #expect(settings.summary.contains("results.s3: off"))
    }

    @Test func objectStorageAndKeepLocalAreRead() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/videospool.yaml"
            try write(
                """
                results:
                  keep_local: false
                  s3:
                    bucket: acme-videos
                    region: eu-central-1
                    delete_on_prune: true
                """,
                to: path
            )
            let settings = try await SettingsLoader.loadSettings(path: path)
            let s3 = try #require(settings.s3)
            #expect(s3.configuration.bucket == "acme-videos")
            #expect(s3.configuration.deleteOnPrune)
            #expect(!settings.keepLocal)
            #expect(!settings.pipelinePolicy.videoStorage.keepLocal)
            #expect(settings.summary.contains("results.keep_local: false"))
            #expect(settings.summary.contains { $0.hasPrefix("results.s3: s3://acme-videos/videospool/{date}/") })
        }
    }

    @Test(arguments: [
        ("results:\n  keep_local: false\n", "results.keep_local"),
        ("results:\n  download: false\n  s3:\n    bucket: acme-videos\n", "results.download"),
        ("results:\n  s3:\n    region: eu-central-1\n", "results.s3.bucket"),
        ("results:\n  s3:\n    bucket: acme-videos\n    presign_seconds: 604801\n", "results.s3.presign_seconds"),
        ("results:\n  s3:\n    bucket: acme-videos\n    key_prefix: \"/{job}/\"\n", "results.s3.key_prefix"),
        ("results:\n  s3:\n    bucket: acme-videos\n    bukcet: typo\n", "results.s3.bukcet"),
    ])
    func aBadObjectStorageSettingNamesItsKey(text: String, key: String) async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/videospool.yaml"
            try write(text, to: path)
            let error = await #expect(throws: ConfigurationError.self) { try await SettingsLoader.loadSettings(path: path) }
            #expect(error?.key == key, "\(String(describing: error))")
        }
    }

    @Test func theS3SecretJoinsTheSecretsThatAreScrubbed() throws {
        let credentials = Credentials(
            apiKey: "api-key-1",
            webhookSecret: try WebhookSecret(parsing: testSecretText),
            s3: SigV4Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "s3-secret-XYZ", sessionToken: "s3-token-XYZ")
        )
        #expect(credentials.secrets.contains("s3-secret-XYZ"))
        #expect(credentials.secrets.contains("s3-token-XYZ"))
        #expect(!credentials.description.contains("s3-secret-XYZ"))
    }
}
