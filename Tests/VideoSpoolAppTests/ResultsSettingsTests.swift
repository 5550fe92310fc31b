import Foundation
import Testing
import VideoSpoolApp
import VideoSpoolCore

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
}
