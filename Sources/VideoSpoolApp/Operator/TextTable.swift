/// Aligned columns for the terminal: each column as wide as its widest cell, two spaces apart,
/// headers in bold when colour is on. The last column is not padded.
public struct TextTable: Sendable {
    public var headers: [String]
    public var rows: [[String]] = []

    public init(headers: [String]) {
        self.headers = headers
    }

    public mutating func append(_ row: [String]) {
        rows.append(row)
    }

    public func render(style: TerminalColors = .plain, colorColumn: Int? = nil) -> String {
        var widths = headers.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ cells: [String], paint: (Int, String) -> String) -> String {
            cells.enumerated().map { index, cell in
                let padded = index == cells.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count)
                return paint(index, padded)
            }.joined(separator: "  ")
        }
        var lines = [line(headers) { _, text in style.bold(text) }]
        for row in rows {
            lines.append(line(row) { index, text in index == colorColumn ? style.state(text) : text })
        }
        return lines.joined(separator: "\n")
    }
}

/// Colour for a terminal, or none: only when stdout is a tty and `NO_COLOR` is unset
/// (https://no-color.org). A distinct name from the other CLI helpers on purpose.
public struct TerminalColors: Sendable {
    public let enabled: Bool

    public static let plain = TerminalColors(enabled: false)

    public init(enabled: Bool) {
        self.enabled = enabled
    }

    public static func forStandardOutput(environment: [String: String], isTerminal: Bool) -> TerminalColors {
        TerminalColors(enabled: isTerminal && (environment["NO_COLOR"] ?? "").isEmpty && environment["TERM"] != "dumb")
    }

    public func bold(_ text: String) -> String { paint(text, "1") }

    /// Green for done, red for failed, yellow for canceled, cyan for work in progress; keyed by the
    /// first word so that padded cells keep their width.
    public func state(_ text: String) -> String {
        let word = text.split(separator: " ").first.map(String.init) ?? text
        switch word {
        case "done", "delivered", "completed": return paint(text, "32")
        case "failed", "gone", "refused", "rejected": return paint(text, "31")
        case "canceled": return paint(text, "33")
        case "": return text
        default: return paint(text, "36")
        }
    }

    private func paint(_ text: String, _ code: String) -> String {
        enabled ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }
}
