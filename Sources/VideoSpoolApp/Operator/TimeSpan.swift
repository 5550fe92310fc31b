public import VideoSpoolCore

/// Durations and points in time as operators type them: `30d`, `2h`, `90m`, `45s`, `1w`, or a
/// combination such as `1h30m`; points in time also as ISO 8601 (`2026-11-25T10:00:00Z`).
public enum TimeSpan {
    /// Parses a duration such as `30d` or `1h30m`; `nil` if it is not one.
    public static func duration(_ text: String) -> Duration? {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800]
        var total: Int64 = 0
        var digits = ""
        var sawUnit = false
        for character in text.lowercased() {
            if character.isASCII, character.isNumber {
                digits.append(character)
            } else if let unit = units[character], let value = Int64(digits), value <= 1_000_000 {
                total += value * unit
                digits = ""
                sawUnit = true
            } else {
                return nil
            }
        }
        guard digits.isEmpty, sawUnit else { return nil }
        return .seconds(total)
    }

    /// A point in time: a duration ago (`2h`), or an ISO 8601 date and time (`Z` or an offset;
    /// fractional seconds allowed), or a date alone (midnight UTC).
    public static func instant(_ text: String, now: Timestamp) -> Timestamp? {
        if let span = duration(text) { return now - span }
        return iso8601(text)
    }

    static func iso8601(_ text: String) -> Timestamp? {
        let scalars = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int64? {
            guard range.upperBound <= scalars.count else { return nil }
            var value: Int64 = 0
            for byte in scalars[range] {
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int64(byte - 48)
            }
            return value
        }
        guard scalars.count >= 10, scalars[4] == 45, scalars[7] == 45,
            let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        var seconds = daysFromCivil(year: year, month: month, day: day) * 86400
        var millis: Int64 = 0
        var index = 10
        if scalars.count > 10 {
            guard scalars[10] == 84 || scalars[10] == 116 || scalars[10] == 32,
                let hour = number(11..<13), scalars.count > 13, scalars[13] == 58, let minute = number(14..<16),
                hour < 24, minute < 60
            else { return nil }
            seconds += hour * 3600 + minute * 60
            index = 16
            if index < scalars.count, scalars[index] == 58 {
                guard let second = number(17..<19), second < 61 else { return nil }
                seconds += second
                index = 19
                if index < scalars.count, scalars[index] == 46 {
                    index += 1
                    var scale: Int64 = 100
                    while index < scalars.count, scalars[index] >= 48, scalars[index] <= 57 {
                        millis += Int64(scalars[index] - 48) * scale
                        scale /= 10
                        index += 1
                    }
                }
            }
            guard index < scalars.count else { return nil }  // a time needs a zone
            switch scalars[index] {
            case 90, 122: index += 1
            case 43, 45:
                guard let hours = number(index + 1..<index + 3), scalars.count == index + 6,
                    scalars[index + 3] == 58, let minutes = number(index + 4..<index + 6)
                else { return nil }
                let offset = hours * 3600 + minutes * 60
                seconds += scalars[index] == 43 ? -offset : offset
                index += 6
            default: return nil
            }
        }
        guard index == scalars.count else { return nil }
        return Timestamp(millisecondsSinceEpoch: seconds * 1000 + millis)
    }

    /// Days since 1970-01-01 (Howard Hinnant's algorithm).
    private static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// "just now", "45 s ago", "3 min ago", "2 h ago", "4 d ago"; "in 3 min" for the future.
    public static func relative(_ time: Timestamp, now: Timestamp) -> String {
        let seconds = (now - time).secondsDouble
        let magnitude = abs(seconds)
        let text: String
        if magnitude < 5 { return "just now" }
        if magnitude < 60 {
            text = "\(Int(magnitude)) s"
        } else if magnitude < 3600 {
            text = "\(Int(magnitude / 60)) min"
        } else if magnitude < 86400 * 2 {
            text = "\(Int(magnitude / 3600)) h"
        } else {
            text = "\(Int(magnitude / 86400)) d"
        }
        return seconds >= 0 ? "\(text) ago" : "in \(text)"
    }
}
