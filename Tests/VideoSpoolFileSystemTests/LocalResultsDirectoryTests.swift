import Testing
import VideoSpoolCore
import VideoSpoolFileSystem

struct LocalResultsDirectoryTests {
    @Test func removingAJobsVideoDeletesItsFileAndPartFileOnly() async throws {
        try await withTemporaryDirectory { directory in
            for name in ["job-a.mp4", ".job-a.part", "job-a.webm", "job-b.mp4", "job-ab.mp4"] {
                try writeFile("video", to: directory + "/" + name)
            }
            let results = LocalResultsDirectory(path: directory)
            try await results.removeStoredVideo(jobID: JobID("job-a")!)
            #expect(try entries(of: directory).sorted() == ["job-ab.mp4", "job-b.mp4"])
            // Nothing left to delete is not an error.
            try await results.removeStoredVideo(jobID: JobID("job-a")!)
        }
    }
}
