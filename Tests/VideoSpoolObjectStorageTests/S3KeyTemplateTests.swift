import Testing
import VideoSpoolCore
import VideoSpoolObjectStorage

struct S3KeyTemplateTests {
    /// 2026-11-29T23:59:59.999Z, the last millisecond of a day (UTC).
    let lateEvening = Timestamp(millisecondsSinceEpoch: 1_795_996_799_999)

    @Test func placeholdersAreReplacedAndTheFileNameAppended() throws {
        let template = try S3KeyTemplate("videospool/{date}/{job_id}/")
        #expect(try template.key(jobID: "01JD", fileName: "01JD.mp4", date: lateEvening) == "videospool/2026-11-29/01JD/01JD.mp4")
    }

    @Test func theDateIsTheUTCDay() throws {
        let template = try S3KeyTemplate("{date}-")
        #expect(try template.key(jobID: "j", fileName: "f", date: Timestamp(millisecondsSinceEpoch: 0)) == "1970-01-01-f")
        #expect(try template.key(jobID: "j", fileName: "f", date: lateEvening + .milliseconds(1)) == "2026-11-30-f")
    }

    @Test func aTemplateMayRepeatPlaceholdersOrHaveNone() throws {
        #expect(try S3KeyTemplate("{job_id}-{job_id}/").key(jobID: "a", fileName: "b", date: lateEvening) == "a-a/b")
        #expect(try S3KeyTemplate("").key(jobID: "a", fileName: "a.mp4", date: lateEvening) == "a.mp4")
        #expect(try S3KeyTemplate("flat-").key(jobID: "a", fileName: "a.mp4", date: lateEvening) == "flat-a.mp4")
        #expect(try S3KeyTemplate("ü b+~/").key(jobID: "a", fileName: "a.mp4", date: lateEvening) == "ü b+~/a.mp4")
    }

    @Test(arguments: [
        ("{jobid}/", "unknown placeholder '{jobid}'"),
        ("{date", "without a closing"),
        ("date}/", "without an opening"),
        ("/videos/", "starts with '/'"),
        ("videos//{date}/", "empty, '.' or '..' path segment"),
        ("videos/./x/", "empty, '.' or '..' path segment"),
        ("videos/../x/", "empty, '.' or '..' path segment"),
        ("tab\there/", "control character"),
        (String(repeating: "k", count: 1100), "longer than 1024 bytes"),
    ])
    func aBadTemplateIsRefusedWithTheReason(template: String, reason: String) {
        let error = #expect(throws: ObjectStorageError.self) { try S3KeyTemplate(template) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains(reason) == true, "\(error?.message ?? "no error")")
    }

    @Test func aJobIDThatWouldMakeADotSegmentIsRefused() throws {
        let template = try S3KeyTemplate("r/{job_id}/")
        let error = #expect(throws: ObjectStorageError.self) { try template.key(jobID: "..", fileName: "x.mp4", date: lateEvening) }
        #expect(error?.code == .invalidArgument)
        #expect(throws: ObjectStorageError.self) { try template.key(jobID: "a", fileName: "", date: lateEvening) }
    }
}
