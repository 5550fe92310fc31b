#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// How human output looks: colour only on a terminal and only without `NO_COLOR`
/// (https://no-color.org), times relative to now, columns aligned. `--json` output never uses it.
struct TerminalStyle: Sendable {
    /// Whether ANSI colours are written.
    let colour: Bool
    /// Whether the stream is a terminal (progress lines may be redrawn in place).
    let isTerminal: Bool

    init(colour: Bool, isTerminal: Bool) {
        self.colour = colour
        self.isTerminal = isTerminal
    }

    /// The style for a file descriptor: `STDOUT_FILENO` for results, `STDERR_FILENO` for progress.
    init(descriptor: Int32, environment: [String: String] = ProcessInfo.processInfo.environment) {
        let terminal = isatty(descriptor) == 1
        let noColour = !(environment["NO_COLOR"] ?? "").isEmpty || environment["TERM"] == "dumb"
        self.init(colour: terminal && !noColour, isTerminal: terminal)
    }

    static let standardOutput = TerminalStyle(descriptor: STDOUT_FILENO)
    static let standardError = TerminalStyle(descriptor: STDERR_FILENO)

    func green(_ text: String) -> String { paint(text, "32") }
    func red(_ text: String) -> String { paint(text, "31") }
    func yellow(_ text: String) -> String { paint(text, "33") }
    func bold(_ text: String) -> String { paint(text, "1") }
    func dim(_ text: String) -> String { paint(text, "2") }

    private func paint(_ text: String, _ code: String) -> String {
        colour ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }

    /// "just now", "42 s ago", "3 min ago", "2 h ago", "5 days ago"; "in 3 min" for the future.
    static func relative(seconds: Double) -> String {
        let magnitude = abs(seconds)
        let amount: String
        switch magnitude {
        case ..<5: return "just now"
        case ..<60: amount = "\(Int(magnitude)) s"
        case ..<3600: amount = "\(Int(magnitude / 60)) min"
        case ..<86400: amount = "\(Int(magnitude / 3600)) h"
        default:
            let days = Int(magnitude / 86400)
            amount = days == 1 ? "1 day" : "\(days) days"
        }
        return seconds >= 0 ? "\(amount) ago" : "in \(amount)"
    }

    /// An elapsed time as a clock: "0:07", "12:42", "1:02:03".
    static func clock(_ duration: Duration) -> String {
        let total = Int(duration.components.seconds)
        let (hours, minutes, seconds) = (total / 3600, total / 60 % 60, total % 60)
        let tail = String(format: "%02d", seconds)
        return hours > 0 ? "\(hours):\(String(format: "%02d", minutes)):\(tail)" : "\(minutes):\(tail)"
    }

    /// Rows with every column but the last padded to its widest cell (measured before colouring);
    /// `paint` may colour a cell given its row and column.
    static func table(_ rows: [[String]], paint: (Int, Int, String) -> String = { _, _, text in text }) -> [String] {
        let columns = rows.map(\.count).max() ?? 0
        var widths = [Int](repeating: 0, count: columns)
        for row in rows {
            for (column, cell) in row.enumerated() { widths[column] = max(widths[column], cell.count) }
        }
        return rows.enumerated().map { index, row in
            row.enumerated().map { column, cell in
                let padded = column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                return paint(index, column, padded)
            }
            .joined(separator: "  ")
        }
    }
}
