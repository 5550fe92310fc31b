public import VideoSpoolCore

/// What `videospool models` prints: the loaded models and where each came from, one model's
/// fields, and the JSON forms of both.
public enum ModelReport {
    /// One line per model: id, title, source.
    public static func table(_ catalog: ModelCatalog, style: TerminalColors = .plain) -> String {
        var table = TextTable(headers: ["MODEL", "TITLE", "SOURCE"])
        for entry in catalog.models {
            var source = entry.source.description
            if entry.replacesBuiltIn { source += " (replaces the built-in definition)" }
            table.append([entry.schema.model, entry.schema.title ?? "", source])
        }
        return table.render(style: style)
    }

    /// `{"directory", "allow_unlisted", "models": [{"model", "title", "source", "path"}]}`.
    public static func json(_ settings: DaemonSettings) -> JSONValue {
        .object(
            JSONObject([
                "directory": .string(settings.modelsDirectory),
                "allow_unlisted": .bool(settings.allowUnlistedModels),
                "models": .array(settings.models.models.map(summary)),
            ])
        )
    }

    static func summary(_ entry: ModelCatalog.Entry) -> JSONValue {
        var object = JSONObject([
            "model": .string(entry.schema.model),
            "title": .optional(entry.schema.title),
        ])
        switch entry.source {
        case .builtIn:
            object["source"] = .string("built-in")
        case .file(let path):
            object["source"] = .string("file")
            object["path"] = .string(path)
            object["replaces_built_in"] = .bool(entry.replacesBuiltIn)
        }
        return .object(object)
    }

    /// The model's summary, then a table of its fields, then its rules.
    public static func details(_ entry: ModelCatalog.Entry, style: TerminalColors = .plain) -> String {
        let schema = entry.schema
        var lines = [style.bold(schema.model) + (schema.title.map { " — \($0)" } ?? "") + " (\(entry.source))"]
        if let summary = schema.summary { lines.append(summary) }
        lines.append("")
        var table = TextTable(headers: ["FIELD", "REQUIRED", "ACCEPTS", "DEFAULT"])
        for field in schema.fields {
            let accepts = field.name == "model" ? schema.model : describe(field.kind)
            table.append([
                field.name,
                schema.required.contains(field.name) ? "yes" : "",
                accepts,
                field.defaultValue.map { JSONWriter().string($0) } ?? "",
            ])
        }
        // Rows whose last columns are empty would end in padding.
        lines += table.render(style: style).split(separator: "\n", omittingEmptySubsequences: false).map { line in
            String(line.reversed().drop { $0 == " " }.reversed())
        }
        if !schema.rules.isEmpty {
            lines.append("")
            lines.append("Rules:")
            for rule in schema.rules { lines.append("  \(rule.message) (\(rule.code))") }
        }
        let grouping = [schema.parameterFields.resolution, schema.parameterFields.duration].compactMap { $0 }
        lines.append("")
        lines.append(
            "The learned poll schedule groups jobs by model"
                + (grouping.isEmpty ? "" : " and " + grouping.map { "'\($0)'" }.joined(separator: " and ")) + "."
        )
        lines.append("Also accepted: callback_url or callback_urls, metadata, job_id (the daemon's own keys).")
        return lines.joined(separator: "\n")
    }

    /// `{"model", "source", "path", "replaces_built_in", "definition"}`.
    public static func detailsJSON(_ entry: ModelCatalog.Entry) -> JSONValue {
        guard case .object(var object) = summary(entry) else { return .null }
        object["definition"] = .object(entry.schema.definition)
        return .object(object)
    }

    /// What a field accepts, in words: `one of 480p, 720p`, `integer 4 to 15 (or "5")`.
    public static func describe(_ kind: ModelSchema.Kind) -> String {
        switch kind {
        case .text(let nonEmpty, let minimumLength, let maximumLength):
            var parts = ["string"]
            if nonEmpty { parts.append("not empty") }
            if let minimumLength { parts.append("at least \(minimumLength) characters") }
            if let maximumLength { parts.append("at most \(maximumLength) characters") }
            return parts.joined(separator: ", ")
        case .choice(let choices, let caseInsensitive):
            return "one of " + choices.joined(separator: ", ") + (caseInsensitive ? " (any case)" : "")
        case .integer(let rule):
            var text = "integer"
            if let values = rule.values {
                text += ", one of " + values.map(String.init).joined(separator: ", ")
            } else {
                switch (rule.minimum, rule.maximum) {
                case (let minimum?, let maximum?): text += " \(minimum) to \(maximum)"
                case (let minimum?, nil): text += " ≥ \(minimum)"
                case (nil, let maximum?): text += " ≤ \(maximum)"
                case (nil, nil): break
                }
            }
            if rule.acceptsDigitString { text += " (or as a string, \"5\"; sent as an integer)" }
            return text
        case .number(let minimum, let maximum):
            switch (minimum, maximum) {
            case (let minimum?, let maximum?): return "number \(JSONNumber(minimum)) to \(JSONNumber(maximum))"
            case (let minimum?, nil): return "number ≥ \(JSONNumber(minimum))"
            case (nil, let maximum?): return "number ≤ \(JSONNumber(maximum))"
            case (nil, nil): return "number"
            }
        case .boolean:
            return "true or false"
        case .media(let rule):
            var forms: [String] = []
            if rule.acceptsHTTP { forms.append("http(s) URL") }
            for type in rule.dataTypes { forms.append(type == "*" ? "base64 data: URI" : "base64 data:\(type)/… URI") }
            if rule.allowsAssetID { forms.append("asset:// id") }
            return forms.joined(separator: ", ")
        case .list(let item, let count):
            let size =
                count.upperBound >= Int(Int32.max)
                ? (count.lowerBound > 0 ? "at least \(count.lowerBound)" : "any number")
                : (count.lowerBound == count.upperBound ? "\(count.lowerBound)" : "\(count.lowerBound) to \(count.upperBound)")
            if case .any = item { return "list of \(size) items" }
            return "list of \(size): \(describe(item))"
        case .object:
            return "JSON object"
        case .any:
            return "any JSON value (not checked)"
        }
    }
}
