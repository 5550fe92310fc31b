public import VideoSpoolCore
import VideoSpoolStore

/// How `videospool list` and `show` print jobs: aligned text for people, JSON for scripts. Request
/// bodies are elided (inline media) and URLs lose their query strings, as in outcome files.
public enum JobReportFormat {
    // MARK: - list

    public static func listJSON(_ jobs: [JobSummary]) -> String {
        JSONWriter().string(.array(jobs.map { summaryJSON($0.job, state: $0.state) }))
    }

    public static func listText(_ jobs: [JobSummary], now: Timestamp, style: TerminalColors) -> String {
        guard !jobs.isEmpty else { return "no jobs" }
        var table = TextTable(headers: ["JOB", "STATE", "MODEL", "ACCEPTED", "FINISHED", "DETAIL"])
        for summary in jobs {
            let job = summary.job
            table.append([
                job.id.rawValue,
                summary.state.rawValue,
                job.model,
                TimeSpan.relative(job.acceptedAt, now: now),
                job.finishedAt.map { TimeSpan.relative($0, now: now) } ?? "-",
                job.failure.map { $0.code.description } ?? job.generationID ?? "",
            ])
        }
        return table.render(style: style, colorColumn: 1)
    }

    static func summaryJSON(_ job: Job, state: JobState) -> JSONValue {
        var object = JSONObject()
        object["job_id"] = .string(job.id.rawValue)
        object["state"] = .string(state.rawValue)
        object["phase"] = .string(job.phase.rawValue)
        object["model"] = .string(job.model)
        object["generation_id"] = .optional(job.generationID)
        object["accepted_at"] = .string(job.acceptedAt.iso8601)
        object["submitted_at"] = .optional(job.submittedAt?.iso8601)
        object["finished_at"] = .optional(job.finishedAt?.iso8601)
        object["error"] = job.failure.map { .object(JSONObject(["code": .string($0.code.description), "message": .string($0.message)])) } ?? .null
        return .object(object)
    }

    // MARK: - show

    public static func showJSON(_ report: JobReport) -> String {
        var object = summaryJSON(report.job, state: report.state).objectValue ?? JSONObject()
        let job = report.job
        object["source_file"] = .string(job.sourceName)
        object["submit_attempts"] = .int(Int64(job.submitAttempts))
        object["polls"] = .int(Int64(job.polls))
        object["video_url"] = .optional(job.videoURL.map(HTTPURL.redacting))
        let video = announcedVideo(report)
        if video?["file"] != nil || video?["object"] != nil {
            object["stored_video"] = .object(
                JSONObject([
                    "file": video?["file"] ?? .null, "bytes": video?["bytes"] ?? .null, "sha256": video?["sha256"] ?? .null,
                    "content_type": video?["content_type"] ?? .null, "object": video?["object"] ?? .null,
                ])
            )
        }
        if let error = video?["download_error"] { object["video_download_error"] = error }
        if let error = video?["upload_error"] { object["video_upload_error"] = error }
        object["callback_urls"] = .array(job.callbackURLs.map { .string(HTTPURL.redacting($0)) })
        object["metadata"] = job.metadata.map(JSONValue.object) ?? .null
        object["request"] = request(report.requestBody)
        object["timeline"] = .array(
            report.transitions.map { transition in
                .object(
                    JSONObject([
                        "from": .optional(transition.from?.rawValue), "to": .string(transition.to.rawValue),
                        "at": .string(transition.at.iso8601), "detail": .optional(transition.detail),
                    ])
                )
            }
        )
        object["events"] = .array(
            report.events.map { event in
                .object(
                    JSONObject([
                        "webhook_id": .string(event.id), "type": .string(event.type.description),
                        "created_at": .string(event.createdAt.iso8601),
                    ])
                )
            }
        )
        object["deliveries"] = .array(
            report.deliveries.map { delivery in
                .object(
                    JSONObject([
                        "webhook_id": .string(delivery.id.eventID), "url": .string(HTTPURL.redacting(delivery.url)),
                        "state": .string(delivery.state.rawValue), "attempts": .int(Int64(delivery.attempts)),
                        "last_status": delivery.lastStatusCode.map { .int(Int64($0)) } ?? .null,
                        "last_error": .optional(delivery.lastError),
                        "next_attempt_at": .optional(delivery.state == .pending ? delivery.nextAttemptAt?.iso8601 : nil),
                        "delivered_at": .optional(delivery.deliveredAt?.iso8601),
                        "attempt_log": .array(
                            report.attempts.filter { $0.deliveryID == delivery.id }.map { attempt in
                                .object(
                                    JSONObject([
                                        "number": .int(Int64(attempt.number)), "at": .string(attempt.startedAt.iso8601),
                                        "status": attempt.statusCode.map { .int(Int64($0)) } ?? .null,
                                        "error": .optional(attempt.error),
                                        "latency_ms": .int(attempt.latency.wholeMilliseconds),
                                        "result": .string(attempt.resultingState.rawValue),
                                    ])
                                )
                            }
                        ),
                    ])
                )
            }
        )
        return JSONWriter().string(.object(object))
    }

    /// The `video` object of the job's latest completed event: where the stored file is (or why
    /// it is not), as the webhook announced it.
    static func announcedVideo(_ report: JobReport) -> JSONValue? {
        guard let event = report.events.last(where: { $0.type == .completed }) else { return nil }
        return (try? JSONParser().parse(event.body))?["data"]?["video"]
    }

    public static func showText(_ report: JobReport, now: Timestamp, style: TerminalColors) -> String {
        let job = report.job
        func when(_ time: Timestamp?) -> String {
            time.map { "\($0.iso8601) (\(TimeSpan.relative($0, now: now)))" } ?? "-"
        }
        var fields: [(String, String)] = [
            ("job", job.id.rawValue),
            ("state", style.state(report.state.rawValue) + (report.state.rawValue == job.phase.rawValue ? "" : " (\(job.phase.rawValue))")),
            ("model", job.model),
            ("generation", job.generationID ?? "-"),
            ("source file", job.sourceName),
            ("accepted", when(job.acceptedAt)),
            ("submitted", when(job.submittedAt)),
            ("finished", when(job.finishedAt)),
            ("submissions", "\(job.submitAttempts), polls \(job.polls)"),
        ]
        if let failure = job.failure { fields.append(("error", "\(failure.code): \(failure.message)")) }
        if let video = job.videoURL { fields.append(("video", HTTPURL.redacting(video))) }
        let announced = announcedVideo(report)
        let copies = [announced?["file"]?.stringValue, announced?["object"]?.stringValue].compactMap { $0 }
        if !copies.isEmpty {
            let bytes = announced?["bytes"]?.numberValue?.text ?? "?"
            let sha256 = announced?["sha256"]?.stringValue ?? "?"
            fields.append(("stored", "\(copies.joined(separator: " and ")) (\(bytes) bytes, sha256 \(sha256))"))
            if let error = announced?["upload_error"]?.stringValue { fields.append(("uploaded", "no: \(error)")) }
        } else if let error = announced?["download_error"]?.stringValue {
            fields.append(("stored", "no: \(error)"))
        } else if job.phase == .storing {
            fields.append(("stored", "not yet (downloading)"))
        }
        fields.append(("callbacks", job.callbackURLs.isEmpty ? "none" : job.callbackURLs.map(HTTPURL.redacting).joined(separator: ", ")))
        let width = fields.map(\.0.count).max() ?? 0
        var lines = fields.map { style.bold($0.0.padding(width)) + "  " + $0.1 }

        lines.append("")
        lines.append(style.bold("Request"))
        lines.append("  " + JSONWriter().string(request(report.requestBody)))

        lines.append("")
        lines.append(style.bold("Timeline"))
        var timeline = TextTable(headers: ["WHEN", "AGO", "PHASE", "DETAIL"])
        for transition in report.transitions {
            timeline.append([
                transition.at.iso8601, TimeSpan.relative(transition.at, now: now),
                (transition.from.map { "\($0.rawValue) → " } ?? "") + transition.to.rawValue, transition.detail ?? "",
            ])
        }
        lines.append(indent(timeline.render(style: style)))

        lines.append("")
        lines.append(style.bold("Webhooks"))
        if report.deliveries.isEmpty {
            lines.append("  none")
        } else {
            var deliveries = TextTable(headers: ["WEBHOOK-ID", "TYPE", "URL", "STATE", "ATTEMPTS", "LAST"])
            let types = Dictionary(report.events.map { ($0.id, $0.type.description) }, uniquingKeysWith: { first, _ in first })
            for delivery in report.deliveries {
                deliveries.append([
                    delivery.id.eventID, types[delivery.id.eventID].map { String($0.split(separator: ".").last ?? "") } ?? "",
                    HTTPURL.redacting(delivery.url), delivery.state.rawValue, "\(delivery.attempts)",
                    delivery.lastStatusCode.map { "HTTP \($0)" } ?? delivery.lastError ?? "",
                ])
            }
            lines.append(indent(deliveries.render(style: style, colorColumn: 3)))
            lines.append("")
            lines.append(style.bold("Attempts"))
            var attempts = TextTable(headers: ["WHEN", "AGO", "URL", "#", "STATUS", "LATENCY", "RESULT", "ERROR"])
            let urls = Dictionary(report.deliveries.map { ($0.id, $0.url) }, uniquingKeysWith: { first, _ in first })
            for attempt in report.attempts {
                attempts.append([
                    attempt.startedAt.iso8601, TimeSpan.relative(attempt.startedAt, now: now),
                    urls[attempt.deliveryID].map(HTTPURL.redacting) ?? "-", "\(attempt.number)",
                    attempt.statusCode.map(String.init) ?? "-", "\(attempt.latency.wholeMilliseconds) ms",
                    attempt.resultingState == .pending ? "retry" : attempt.resultingState.rawValue, attempt.error ?? "",
                ])
            }
            lines.append(report.attempts.isEmpty ? "  none yet" : indent(attempts.render(style: style, colorColumn: 6)))
        }
        return lines.joined(separator: "\n")
    }

    /// The request body as stored, elided; a body that does not parse is described, not shown.
    static func request(_ body: [UInt8]?) -> JSONValue {
        guard let body else { return .null }
        guard let value = try? JSONParser().parse(body) else { return .string("<\(body.count) bytes, not JSON>") }
        return RequestElision.elide(value)
    }

    private static func indent(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n")
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
