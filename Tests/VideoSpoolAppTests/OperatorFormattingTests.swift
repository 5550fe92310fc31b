import Testing
import VideoSpoolApp
import VideoSpoolCore

/// What operator commands accept and show: durations and instants as people type them, request
/// bodies elided for display.
struct OperatorFormattingTests {
    @Test func durationsAsOperatorsTypeThem() {
        #expect(TimeSpan.duration("30d") == .seconds(30 * 86400))
        #expect(TimeSpan.duration("1h30m") == .seconds(5400))
        #expect(TimeSpan.duration("45s") == .seconds(45))
        #expect(TimeSpan.duration("1w") == .seconds(604_800))
        #expect(TimeSpan.duration("0s") == .seconds(0))
        for bad in ["", "30", "d", "3x", "-1h", "1.5h", "h1"] { #expect(TimeSpan.duration(bad) == nil, "\(bad)") }
    }

    @Test func instantsAreRelativeOrISO8601() {
        let now = Timestamp(millisecondsSinceEpoch: 1_790_000_000_000)
        #expect(TimeSpan.instant("2h", now: now) == now - .seconds(7200))
        #expect(TimeSpan.instant("1970-01-02T00:00:00Z", now: now) == Timestamp(secondsSinceEpoch: 86400))
        #expect(TimeSpan.instant("1970-01-01T01:00:00+01:00", now: now) == Timestamp(secondsSinceEpoch: 0))
        #expect(TimeSpan.instant("1970-01-01T00:00:01.250Z", now: now) == Timestamp(millisecondsSinceEpoch: 1250))
        #expect(TimeSpan.instant("2026-11-25", now: now) == TimeSpan.instant("2026-11-25T00:00:00Z", now: now))
        #expect(TimeSpan.instant("2026-11-25T10:00", now: now) == nil, "a time needs a zone")
        #expect(TimeSpan.instant("yesterday", now: now) == nil)
    }

    @Test func relativeTimes() {
        let now = Timestamp(secondsSinceEpoch: 100_000)
        #expect(TimeSpan.relative(now, now: now) == "just now")
        #expect(TimeSpan.relative(now - .seconds(180), now: now) == "3 min ago")
        #expect(TimeSpan.relative(now - .seconds(7200), now: now) == "2 h ago")
        #expect(TimeSpan.relative(now - .seconds(4 * 86400), now: now) == "4 d ago")
        #expect(TimeSpan.relative(now + .seconds(120), now: now) == "in 2 min")
    }

    @Test func inlineMediaIsElidedAndQueriesRedacted() throws {
        let blob = String(repeating: "QUJD", count: 16 * 1024)  // 64 KiB of base64 = 48 KiB
        let request = try JSONParser().parse(
            #"{"prompt": "a cat", "image_url": "data:image/png;base64,\#(blob)", "raw": "\#(blob)", "#
                + #""ref": "https://example.com/a.png?token=secret"}"#
        )
        let shown = JSONWriter().string(RequestElision.elide(request))
        #expect(shown.contains(#""image_url":"<base64, 48 KB>""#))
        #expect(shown.contains(#""raw":"<base64, 48 KB>""#))
        #expect(shown.contains("a cat"))
        #expect(!shown.contains("secret"))
        #expect(RequestElision.elide("short words") == "short words")
    }
}
