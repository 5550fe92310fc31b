import Testing
import VideoSpoolCore

struct TimestampTests {
    @Test(arguments: [
        (0, "1970-01-01T00:00:00.000Z"),
        (1, "1970-01-01T00:00:00.001Z"),
        (999, "1970-01-01T00:00:00.999Z"),
        (86_399_999, "1970-01-01T23:59:59.999Z"),
        (86_400_000, "1970-01-02T00:00:00.000Z"),
        (1_709_208_000_000, "2024-02-29T12:00:00.000Z"),
        (1_709_164_800_000, "2024-02-29T00:00:00.000Z"),
        (1_709_251_200_000, "2024-03-01T00:00:00.000Z"),
        (1_795_598_593_123, "2026-11-25T09:23:13.123Z"),
        (951_782_400_000, "2000-02-29T00:00:00.000Z"),
        (951_868_800_000, "2000-03-01T00:00:00.000Z"),
        (946_684_799_999, "1999-12-31T23:59:59.999Z"),
        (4_107_542_400_000, "2100-03-01T00:00:00.000Z"),
        (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        (-86_400_000, "1969-12-31T00:00:00.000Z"),
        (-2_208_988_800_000, "1900-01-01T00:00:00.000Z"),
    ] as [(Int64, String)])
    func iso8601FormatsUTCWithMilliseconds(milliseconds: Int64, text: String) {
        #expect(Timestamp(millisecondsSinceEpoch: milliseconds).iso8601 == text)
    }

    @Test func theDescriptionIsTheISO8601Form() {
        let timestamp = Timestamp(millisecondsSinceEpoch: 1_795_598_593_123)
        #expect(timestamp.description == "2026-11-25T09:23:13.123Z")
        #expect("\(timestamp)" == "2026-11-25T09:23:13.123Z")
    }

    @Test func formattingAndHTTPDateParsingAgreeOverFiveCenturies() throws {
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        // Every 97th day (with a changing time of day) from 1900 to 2400.
        var seconds: Int64 = -2_208_988_800
        var step: Int64 = 0
        while seconds < 13_569_465_600 {
            let timestamp = Timestamp(secondsSinceEpoch: seconds)
            let iso = timestamp.iso8601
            let year = iso.prefix(4)
            let month = Int(iso.dropFirst(5).prefix(2))!
            let day = iso.dropFirst(8).prefix(2)
            let time = iso.dropFirst(11).prefix(8)
            let httpDate = "Xxx, \(day) \(months[month - 1]) \(year) \(time) GMT"
            let parsed = try #require(Timestamp(httpDate: httpDate), "\(httpDate)")
            #expect(parsed == timestamp, "\(iso) -> \(httpDate)")
            step += 1
            seconds += 97 * 86_400 + (step * 3_607) % 86_400
        }
    }

    @Test func httpDatesParse() {
        #expect(Timestamp(httpDate: "Wed, 21 Oct 2015 07:28:00 GMT") == Timestamp(secondsSinceEpoch: 1_445_412_480))
        #expect(Timestamp(httpDate: "Thu, 29 Feb 2024 00:00:00 GMT")?.iso8601 == "2024-02-29T00:00:00.000Z")
        #expect(Timestamp(httpDate: "Wed, 21 Oct 2015 07:28:00 PST") == nil)
    }

    @Test func arithmeticWorksInMilliseconds() {
        let start = Timestamp(millisecondsSinceEpoch: 1_000)
        #expect(start + .seconds(2) == Timestamp(millisecondsSinceEpoch: 3_000))
        #expect(start + .milliseconds(1) == Timestamp(millisecondsSinceEpoch: 1_001))
        #expect(start - .milliseconds(1_500) == Timestamp(millisecondsSinceEpoch: -500))
        #expect(Timestamp(millisecondsSinceEpoch: 4_250) - start == .milliseconds(3_250))
        #expect(start - Timestamp(millisecondsSinceEpoch: 4_250) == .milliseconds(-3_250))
        #expect(start + .microseconds(1_999) == Timestamp(millisecondsSinceEpoch: 1_001), "sub-millisecond parts are truncated")
    }

    @Test func timestampsOrderByTime() {
        let early = Timestamp(secondsSinceEpoch: 10)
        let late = Timestamp(millisecondsSinceEpoch: 10_001)
        #expect(early < late)
        #expect(max(early, late) == late)
        #expect(Timestamp(secondsSinceEpoch: 10) == Timestamp(millisecondsSinceEpoch: 10_000))
        #expect(late.secondsSinceEpoch == 10)
    }

    @Test func durationsConvertToMillisecondsAndSeconds() {
        #expect(Duration.seconds(3).wholeMilliseconds == 3_000)
        #expect(Duration.milliseconds(1_500).wholeMilliseconds == 1_500)
        #expect(Duration.microseconds(2_999).wholeMilliseconds == 2)
        #expect(Duration.milliseconds(-1_500).wholeMilliseconds == -1_500)
        #expect(Duration.milliseconds(1_500).secondsDouble == 1.5)
        #expect(Duration.seconds(double: 1.5) == .milliseconds(1_500))
        #expect(Duration.seconds(double: 0.0004) == .zero)
        #expect(Duration.seconds(double: 0.0006) == .milliseconds(1))
    }
}
