import CSystemd
import Testing
import VideoSpoolSystemd

struct JournalLogHandlerTests {
    /// `sd_journal_sendv` reads every vector during the call: each must point at its field's bytes,
    /// whole, in memory that is still valid then (empty fields, multi-byte UTF-8 and large values too).
    @Test func eachFieldBecomesOneVectorOverItsExactBytes() {
        let fields = [
            "MESSAGE=Webhook delivered ✓ (héllo)",
            "",
            "PRIORITY=5",
            "JOB_ID=a=b=c",
            "DETAIL=" + String(repeating: "0123456789", count: 20_000),
        ]
        let seen = JournalLogHandler.withVectors(fields) { vectors, count in
            (0..<Int(count)).map { index in
                let vector = vectors[index]
                return String(decoding: UnsafeRawBufferPointer(start: vector.iov_base, count: vector.iov_len), as: UTF8.self)
            }
        }
        #expect(seen == fields)
    }

    @Test func noFieldsIsNoVectors() {
        let count = JournalLogHandler.withVectors([]) { _, count in count }
        #expect(count == 0)
    }
}
