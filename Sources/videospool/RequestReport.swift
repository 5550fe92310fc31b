import VideoSpoolCore

/// How `validate` and `submit` show a request's problems: an aligned table for people, the
/// daemon's own `{"field", "code", "message"}` objects for scripts.
enum RequestReport {
    static func lines(_ issues: [ValidationIssue], style: TerminalStyle) -> [String] {
        let rows = issues.map { [$0.field ?? "(file)", $0.code.description, $0.message] }
        return TerminalStyle.table(rows) { _, column, text in
            column == 1 ? style.red(text) : column == 0 ? style.bold(text) : text
        }
        .map { "  " + $0 }
    }

    static func json(file: String, jobID: JobID?, issues: [ValidationIssue]) -> JSONValue {
        .object(
            JSONObject([
                "file": .string(file),
                "valid": .bool(issues.isEmpty),
                "job_id": .optional(jobID?.rawValue),
                "errors": .array(issues.map(\.json)),
            ])
        )
    }

    static func print(_ value: JSONValue) {
        Swift.print(JSONWriter(pretty: true).string(value))
    }
}
