import Logging
public import ServiceLifecycle
import Synchronization
public import VideoSpoolCore

/// Turns request files in `incoming/` into committed jobs or rejections.
///
/// inotify events are hints that name files to look at; a full scan at start-up, after an overflow
/// and every `rescanInterval` is the authority. A file leaves `incoming/` only after its job (or its
/// rejection, when someone is to be told) is committed, and the store remembers the file until it
/// has left, so a crash in between never turns one file into two jobs.
public final class SpoolIntake: Service, Sendable {
    public struct Configuration: Sendable {
        public var maximumRequestBytes: Int
        /// How long a file whose JSON looks cut short (or empty), or that still has a second link,
        /// may be still being written: it is looked at again after this, then rejected.
        public var settleTime: Duration
        public var rescanInterval: Duration
        /// Callback URLs for requests that name none (`webhooks.default_urls`).
        public var defaultCallbackURLs: [String]
        /// A file without `job_id` whose bytes equal those of a job accepted this recently is
        /// rejected as a duplicate (`spool.duplicate_window_seconds`; zero turns it off).
        public var duplicateWindow: Duration
        public var batchSize: Int

        public init(
            maximumRequestBytes: Int = 10 * 1024 * 1024,
            settleTime: Duration = .seconds(5),
            rescanInterval: Duration = .seconds(30),
            defaultCallbackURLs: [String] = [],
            duplicateWindow: Duration = .seconds(3600),
            batchSize: Int = 128
        ) {
            self.maximumRequestBytes = maximumRequestBytes
            self.settleTime = settleTime
            self.rescanInterval = rescanInterval
            self.defaultCallbackURLs = defaultCallbackURLs
            self.duplicateWindow = duplicateWindow
            self.batchSize = batchSize
        }
    }

    private struct State {
        var hinted: [String] = []
        var hintedSet: Set<String> = []
        var rescanRequested = true
        var nextRescan: Timestamp?
        /// Files to look at again later (maybe still being written), by due time.
        var deferred: [String: Timestamp] = [:]
        /// Files that could not be moved out of `incoming/` (disk full, permissions): left alone
        /// until the time given, then looked at again; `nil` when the error was permanent (left
        /// alone until the file is gone from a scan, or the next start).
        var stuck: [String: Timestamp?] = [:]
        /// Committed files not yet removed (from the store, at start-up).
        var unsettled: [String: (jobID: JobID, source: SourceFile)] = [:]
        var validator: RequestValidator
        var configuration: Configuration
        var stopping = false
    }

    private let context: PipelineContext
    private let spool: any SpoolDirectory
    private let submissions: SubmissionService
    private let deliveries: DeliveryService
    private let state: Mutex<State>
    private let wake = WakeSignal()
    private let startup: StartupProgress?

    public init(
        context: PipelineContext,
        spool: any SpoolDirectory,
        validator: RequestValidator,
        configuration: Configuration,
        submissions: SubmissionService,
        deliveries: DeliveryService,
        startup: StartupProgress? = nil
    ) {
        self.startup = startup
        self.context = context
        self.spool = spool
        self.submissions = submissions
        self.deliveries = deliveries
        self.state = Mutex(State(validator: validator, configuration: configuration))
    }

    /// Spool files a previous run committed but did not get to remove (see ``RecoveredState``).
    public func restore(unsettled: [(jobID: JobID, source: SourceFile)]) {
        state.withLock { state in
            for entry in unsettled { state.unsettled[entry.source.name] = entry }
        }
    }

    /// Applies new limits and validation options (configuration reload).
    public func update(configuration: Configuration, validator: RequestValidator) {
        state.withLock { state in
            state.configuration = configuration
            state.validator = validator
            state.nextRescan = nil
        }
        wake.signal()
    }

    public func run() async throws {
        // Watch first, then scan: a file published between the two is seen by one or the other.
        let changes = try spool.watch()
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask {
                    for await change in changes { self.hint(change) }
                }
                try await settleUnsettled()
                // The start-up backlog (the first pass's files) is shown in the status line until read.
                var backlog = true
                while let names = try await nextNames() {
                    // The first pass is the initial full scan. Once it has listed the directory
                    // (watched already), every waiting file is known and will be read in order:
                    // start-up is complete, as a mail spool is ready with mail still queued. A
                    // backlog of any size then costs no start timeout.
                    if backlog { context.counters.update { $0.unread = names.count } }
                    startup?.ready()
                    for start in stride(from: 0, to: names.count, by: batchSize) {
                        context.heartbeats.beat(.intake, at: context.time.now())
                        let end = min(start + batchSize, names.count)
                        try await process(Array(names[start..<end]))
                        if backlog { context.counters.update { $0.unread = names.count - end } }
                        if state.withLock({ $0.stopping }) { break }
                    }
                    if backlog { context.counters.update { $0.unread = 0 } }
                    backlog = false
                    if names.isEmpty { await context.idle(.intake, on: wake, until: nextWake()) }
                }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.state.withLock { $0.stopping = true }
            self.wake.signal()
        }
    }

    private var batchSize: Int { state.withLock { max($0.configuration.batchSize, 1) } }

    private func hint(_ change: SpoolChange) {
        state.withLock { state in
            switch change {
            case .file(let name):
                if state.hintedSet.insert(name).inserted { state.hinted.append(name) }
            case .rescan:
                state.rescanRequested = true
            }
        }
        wake.signal()
    }

    private func nextWake() -> Timestamp? {
        state.withLock { state in
            ([state.nextRescan] + state.deferred.values.map { Optional($0) }).compactMap { $0 }.min()
        }
    }

    /// The names to look at now: everything on a rescan, else the hinted and due deferred ones.
    /// `nil` once shutting down.
    private func nextNames() async throws -> [String]? {
        let now = context.time.now()
        let rescan = state.withLock { state -> Bool? in
            if state.stopping || Task.isCancelled { return nil }
            if state.rescanRequested || (state.nextRescan.map { now >= $0 } ?? true) {
                state.rescanRequested = false
                state.nextRescan = now + state.configuration.rescanInterval
                state.hinted.removeAll()
                state.hintedSet.removeAll()
                return true
            }
            return false
        }
        guard let rescan else { return nil }
        var candidates: [String]
        if rescan {
            // Spool files handed over by the store (a shared store reports them every round) whose
            // file has gone meanwhile are settled, so the list never grows.
            try await settleUnsettled()
            candidates = try await spool.incomingNames()
        } else {
            candidates = state.withLock { state in
                defer {
                    state.hinted.removeAll()
                    state.hintedSet.removeAll()
                }
                return state.hinted
            }
        }
        return state.withLock { state in
            var names: [String] = []
            var seen = Set<String>()
            if !rescan {
                // A file put off and then written again (its writer closed it, or made it anew) is
                // looked at now: its content may no longer be cut short, or may have become
                // something no continuation can fix, which is rejected at once.
                for name in candidates where state.deferred.removeValue(forKey: name) != nil {
                    if seen.insert(name).inserted { names.append(name) }
                }
            }
            for (name, due) in state.deferred where due <= now {
                state.deferred[name] = nil
                if seen.insert(name).inserted { names.append(name) }
            }
            if rescan {
                // A file that is gone may come back under the same name: look at it afresh then.
                let present = Set(candidates)
                state.stuck = state.stuck.filter { present.contains($0.key) }
            }
            for name in candidates where state.deferred[name] == nil && Self.isDue(state.stuck[name], now: now) {
                if Self.isRequestName(name), seen.insert(name).inserted { names.append(name) }
            }
            return names
        }
    }

    /// How long a file that could not be moved is left alone.
    static let stuckRetryDelay = Duration.seconds(30)

    /// Whether a file is to be looked at: never stuck, or stuck until a time that has come.
    private static func isDue(_ stuck: Timestamp??, now: Timestamp) -> Bool {
        switch stuck {
        case nil: true
        case .some(nil): false
        case .some(.some(let until)): until <= now
        }
    }

    /// Callers publish `*.json`; names starting with `.` are writers' temporary files.
    static func isRequestName(_ name: String) -> Bool {
        !name.hasPrefix(".") && name.hasSuffix(".json") && name.count > 5
    }

    // MARK: - One batch

    private struct Batch {
        var changes: [StoreChange] = []
        var accepted: [(job: Job, name: String)] = []
        /// The accepted jobs' request bodies, handed to the submission queue with them.
        var bodies: [JobID: [UInt8]] = [:]
        var rejected: [Rejection] = []
        var jobIDs: Set<JobID> = []
        var contents: [String: JobID] = [:]
    }

    private struct Rejection {
        var name: String
        var errorDocument: [UInt8]
        var request: RejectedRequest
        /// Set when the rejection was committed to carry a webhook.
        var record: (job: Job, event: WebhookEvent, deliveries: [Delivery])?
    }

    /// A request file as read, before it is judged.
    private struct ReadFile {
        enum Content {
            case vanished
            case unusable(ValidationIssue)
            /// Validated here already, so the group's lookups can be only those its requests need.
            case file(SpoolFile, sha256: String, validation: ValidationOutcome)
        }

        var name: String
        var now: Timestamp
        var content: Content

        var identity: String? { if case .file(let file, _, _) = content { file.identity } else { nil } }
        /// A valid request's job id, if it names one.
        var requestedJobID: JobID? {
            guard case .file(_, _, .valid(let request)) = content else { return nil }
            return request.requestedJobID
        }
        /// The digest of a valid request without a job id: only such a request can be a duplicate.
        var deduplicatedSHA256: String? {
            guard case .file(_, let sha256, .valid(let request)) = content, request.requestedJobID == nil else { return nil }
            return sha256
        }
    }

    /// Files read together are judged together: one question to the store for the group.
    private static let groupBytes = 4 * 1024 * 1024

    private func process(_ names: [String]) async throws {
        let (validator, configuration) = state.withLock { ($0.validator, $0.configuration) }
        var batch = Batch()
        var rest = names[...]
        while !rest.isEmpty {
            // A group of files is read first (up to a few MiB), then the store is asked about all
            // of them at once: on a shared store that is one round trip instead of two per file.
            var group: [ReadFile] = []
            var bytes = 0
            while let name = rest.popFirst() {
                let now = context.time.now()
                let content: ReadFile.Content
                switch await spool.read(name, maximumBytes: configuration.maximumRequestBytes) {
                case .vanished: content = .vanished
                case .unusable(let issue): content = .unusable(issue)
                case .file(let file):
                    content = .file(file, sha256: ContentDigest.sha256Hex(file.bytes), validation: validator.validate(file.bytes))
                    bytes += file.bytes.count
                }
                group.append(ReadFile(name: name, now: now, content: content))
                if bytes >= Self.groupBytes { break }
            }
            let facts = try await context.store.intakeFacts(
                identities: group.compactMap(\.identity),
                sha256s: configuration.duplicateWindow > .zero ? group.compactMap(\.deduplicatedSHA256) : [],
                jobIDs: group.compactMap(\.requestedJobID),
                acceptedSince: (group.first?.now ?? context.time.now()) - configuration.duplicateWindow
            )
            try await judge(group, facts: facts, configuration: configuration, into: &batch)
        }
        try await finish(batch)
    }

    private func judge(
        _ group: [ReadFile],
        facts: IntakeFacts,
        configuration: Configuration,
        into batch: inout Batch
    ) async throws {
        for item in group {
            let name = item.name
            let now = item.now
            switch item.content {
            case .vanished:
                continue
            case .unusable(let issue):
                reject(name, RejectedRequest(issues: [issue]), sha256: nil, now: now, into: &batch)
            case .file(let file, let sha256, let validation):
                if let unsettled = state.withLock({ $0.unsettled.removeValue(forKey: name) }) {
                    if unsettled.source.sha256 == sha256 {
                        try await settle(unsettled.jobID, unsettled.source)
                        continue
                    }
                    try await context.commit([.sourceSettled(unsettled.jobID)], for: .intake)
                }
                // A daemon sharing this spool directory made a job of this very file already: it is
                // that job's, never a duplicate of itself (and that daemon, or whoever holds its
                // spool's debts, removes it).
                if let identity = file.identity, let taken = facts.taken[identity] {
                    context.logger.debug(
                        "Request file already taken by a daemon sharing the spool",
                        metadata: ["spool.file": "\(name)", "job.id": "\(taken)"]
                    )
                    continue
                }
                let young = now - file.modifiedAt < configuration.settleTime
                if file.linkCount > 1 {
                    if young {
                        postpone(name, until: file.modifiedAt + configuration.settleTime)
                        continue
                    }
                    let issue = ValidationIssue(
                        field: nil,
                        code: .hardLink,
                        message: "the file has \(file.linkCount) hard links; publish requests with rename(2), "
                            + "not by linking a file that stays elsewhere"
                    )
                    reject(name, RejectedRequest(issues: [issue]), sha256: sha256, identity: file.identity, now: now, into: &batch)
                    continue
                }
                switch validation {
                case .invalid(let request):
                    if young, Self.mayBeIncomplete(request) {
                        postpone(name, until: file.modifiedAt + configuration.settleTime)
                        continue
                    }
                    reject(name, request, sha256: sha256, identity: file.identity, now: now, into: &batch)
                case .valid(let request):
                    try await accept(
                        request,
                        name: name,
                        sha256: sha256,
                        identity: file.identity,
                        facts: facts,
                        now: now,
                        configuration: configuration,
                        into: &batch
                    )
                }
            }
        }
    }

    /// Writers that do not use rename may be caught mid-write: the file is empty, or the JSON ends
    /// while a value is open. Anything else (an invalid token, a UTF-16 byte order mark, invalid
    /// UTF-8, a NUL byte) cannot become a request however the file goes on, so it is rejected at once.
    private static func mayBeIncomplete(_ request: RejectedRequest) -> Bool {
        request.issues.contains {
            $0.code.description == JSONParseError.Code.truncated.description
                || $0.code.description == JSONParseError.Code.empty.description
        }
    }

    private func postpone(_ name: String, until due: Timestamp) {
        state.withLock { $0.deferred[name] = due }
        context.logger.debug("Request file may still be being written; will look again", metadata: ["spool.file": "\(name)"])
    }

    private func accept(
        _ request: ValidatedRequest,
        name: String,
        sha256: String,
        identity: String?,
        facts: IntakeFacts,
        now: Timestamp,
        configuration: Configuration,
        into batch: inout Batch
    ) async throws {
        if request.requestedJobID == nil, configuration.duplicateWindow > .zero {
            let earlier = batch.contents[sha256].map { ($0, now) } ?? facts.accepted[sha256].map { ($0.jobID, $0.at) }
            if let (id, acceptedAt) = earlier {
                let issue = ValidationIssue(
                    field: nil,
                    code: .duplicateRequest,
                    message: "this file is byte for byte the request of job \(id), accepted at \(acceptedAt.iso8601); "
                        + "it is not submitted twice. To submit the same request again on purpose, give it a job_id "
                        + "(or change it), or set spool.duplicate_window_seconds to 0"
                )
                let rejected = RejectedRequest(
                    issues: [issue],
                    callbackURLs: request.callbackURLs,
                    metadata: request.metadata,
                    model: request.model
                )
                reject(name, rejected, sha256: sha256, identity: identity, now: now, into: &batch)
                return
            }
        }
        let defaults = configuration.defaultCallbackURLs
        if let requested = request.requestedJobID {
            let duplicate = batch.jobIDs.contains(requested) || facts.existing.contains(requested)
            if duplicate {
                let issue = ValidationIssue(
                    field: "job_id",
                    code: .duplicateJobID,
                    message: "job_id '\(requested)' is already known; a request is never submitted twice"
                )
                let rejected = RejectedRequest(
                    issues: [issue],
                    callbackURLs: request.callbackURLs,
                    metadata: request.metadata,
                    requestedJobID: requested,
                    model: request.model
                )
                reject(name, rejected, sha256: sha256, identity: identity, now: now, into: &batch)
                return
            }
        }
        let id = request.requestedJobID ?? context.ids.jobID(at: now)
        let job = Job(
            id: id,
            phase: .queued,
            model: request.model,
            callbackURLs: request.callbackURLs.isEmpty ? defaults : request.callbackURLs,
            metadata: request.metadata,
            acceptedAt: now,
            sourceName: name,
            parameters: request.parameters
        )
        batch.jobIDs.insert(id)
        if request.requestedJobID == nil { batch.contents[sha256] = id }
        batch.accepted.append((job, name))
        let body = JSONWriter().bytes(.object(request.upstreamBody))
        batch.bodies[id] = body
        batch.changes.append(
            .insertJob(
                job,
                requestBody: body,
                source: SourceFile(name: name, sha256: sha256, disposition: .remove, identity: identity)
            )
        )
    }

    private func reject(
        _ name: String,
        _ request: RejectedRequest,
        sha256: String?,
        identity: String? = nil,
        now: Timestamp,
        into batch: inout Batch
    ) {
        let defaults = state.withLock { $0.configuration.defaultCallbackURLs }
        let callbacks = request.callbackURLs.isEmpty ? defaults : request.callbackURLs
        let recordID = context.ids.jobID(at: now)
        let errorDocument = OutcomeDocument.rejection(
            request,
            jobID: request.requestedJobID ?? (callbacks.isEmpty ? nil : recordID),
            sourceName: name,
            now: now
        )
        var rejection = Rejection(name: name, errorDocument: errorDocument, request: request)
        if !callbacks.isEmpty, let sha256 {
            var job = Job(
                id: recordID,
                phase: .rejected,
                model: request.model ?? "",
                callbackURLs: callbacks,
                metadata: request.metadata,
                acceptedAt: now,
                sourceName: name,
                parameters: GenerationParameters()
            )
            job.failure = JobFailure(code: .rejected, message: request.summary)
            job.finishedAt = now
            let event = WebhookPayload.rejected(
                request,
                recordID: recordID,
                sourceName: name,
                eventID: context.ids.eventID(at: now),
                now: now
            )
            let deliveries = callbacks.enumerated().map { index, url in
                Delivery(id: Delivery.ID(eventID: event.id, index: index), jobID: recordID, url: url, nextAttemptAt: now)
            }
            batch.changes.append(
                .insertJob(
                    job,
                    requestBody: [],
                    source: SourceFile(
                        name: name,
                        sha256: sha256,
                        disposition: .reject,
                        errorDocument: errorDocument,
                        identity: identity
                    )
                )
            )
            batch.changes.append(.insertEvent(event, deliveries: deliveries))
            rejection.record = (job, event, deliveries)
        }
        batch.rejected.append(rejection)
    }

    /// `batch` without the files another daemon sharing the spool has taken.
    private func withoutTakenFiles(_ batch: Batch) async throws -> Batch {
        var taken: Set<JobID> = []
        var names: Set<String> = []
        for change in batch.changes {
            guard case .insertJob(let job, _, let source) = change, let identity = source.identity,
                let owner = try await context.store.jobTaken(fromSource: identity), owner != job.id
            else { continue }
            taken.insert(job.id)
            names.insert(source.name)
            context.logger.debug(
                "Request file taken by a daemon sharing the spool at the same moment",
                metadata: ["spool.file": "\(source.name)", "job.id": "\(owner)"]
            )
        }
        var kept = batch
        guard !taken.isEmpty else {
            // The other job is gone again (pruned at once?): leave the whole batch to the next scan.
            context.logger.warning("A request file was taken by another daemon but cannot be found; will look again")
            kept.changes = []
            kept.accepted = []
            kept.rejected = []
            return kept
        }
        kept.changes = batch.changes.filter { change in
            switch change {
            case .insertJob(let job, _, _): !taken.contains(job.id)
            case .insertEvent(let event, _): !taken.contains(event.jobID)
            default: true
            }
        }
        kept.accepted = batch.accepted.filter { !taken.contains($0.job.id) }
        kept.rejected = batch.rejected.filter { !names.contains($0.name) }
        return kept
    }

    /// Commits the batch, then moves its files, then records that they moved.
    private func finish(_ batch: Batch) async throws {
        var batch = batch
        guard !batch.accepted.isEmpty || !batch.rejected.isEmpty else { return }
        while !batch.changes.isEmpty {
            do {
                try await context.commit(batch.changes, for: .intake)
                break
            } catch is SourceAlreadyTaken {
                // Another daemon sharing the spool made a job of one of these files at the same
                // moment: leave those files to it and commit the rest.
                batch = try await withoutTakenFiles(batch)
            }
        }
        var settled: [StoreChange] = []
        for (job, name) in batch.accepted {
            context.metrics.jobAccepted(job)
            if await move(name, { try await self.spool.remove(name) }) { settled.append(.sourceSettled(job.id)) }
            context.logger(for: job).info(
                "Request accepted",
                metadata: ["event": "request.accepted", "spool.file": "\(name)"]
            )
        }
        for rejection in batch.rejected {
            context.metrics.jobRejected(code: rejection.request.issues.first.map { "\($0.code)" })
            var rejectedAs: String?
            let moved = await move(rejection.name) {
                rejectedAs = try await self.spool.reject(rejection.name, errorDocument: rejection.errorDocument)
            }
            if moved, let record = rejection.record { settled.append(.sourceSettled(record.job.id)) }
            var logger = context.logger
            logger[metadataKey: "spool.file"] = "\(rejection.name)"
            // The name in rejected/ differs when an earlier rejection had taken it.
            if let rejectedAs { logger[metadataKey: "rejected.file"] = "\(rejectedAs)" }
            if let id = rejection.request.requestedJobID ?? rejection.record?.job.id {
                logger[metadataKey: "job.id"] = "\(id)"
            }
            if let first = rejection.request.issues.first {
                logger[metadataKey: "error.code"] = "\(first.code)"
                if let field = first.field { logger[metadataKey: "field"] = "\(field)" }
            }
            logger.warning(
                "Request rejected",
                metadata: ["event": "request.rejected", "error.message": "\(rejection.request.summary)"]
            )
        }
        if !settled.isEmpty {
            do {
                try await spool.flush()
                // The moves are durable now; recording them is bookkeeping that the next start
                // redoes (it looks for the files), so it goes with the next commit when running.
                if state.withLock({ $0.stopping }) {
                    try await context.commit(settled, for: .intake)
                } else {
                    context.store.commitWithNext(settled)
                }
            } catch let error as CancellationError {
                throw error
            } catch {
                // The moves may not be durable yet; the store keeps the files as unsettled, which
                // the next start resolves by looking for them.
                context.logger.error("Could not sync the spool directories", metadata: ["error": "\(error)"])
            }
        }
        context.counters.update { $0.rejected += batch.rejected.count }
        for (job, _) in batch.accepted { submissions.enqueue(job, body: batch.bodies[job.id]) }
        for rejection in batch.rejected {
            if let record = rejection.record { deliveries.add(record.deliveries, event: record.event) }
        }
    }

    /// Runs a move out of `incoming/`. On failure the file is left alone: for
    /// ``stuckRetryDelay`` when the error may pass (disk full, permissions), and until it is gone
    /// from a scan or the next start when it cannot (``SpoolDirectoryError/isPermanent``), so a
    /// permanent error is logged once, not every round.
    private func move(_ name: String, _ operation: () async throws -> Void) async -> Bool {
        // The delay counts from the attempt, not from whenever its failure is handled.
        let attempted = context.time.now()
        do {
            try await operation()
            return true
        } catch {
            if (error as? any SpoolDirectoryError)?.isPermanent == true {
                state.withLock { $0.stuck[name] = .some(nil) }
                context.logger.error(
                    """
                    Could not move a request file out of incoming/, and trying again cannot help; \
                    it stays there until it is moved by hand or the daemon restarts
                    """,
                    metadata: ["event": "request.stuck", "spool.file": "\(name)", "error": "\(error)"]
                )
                return false
            }
            let retry = attempted + Self.stuckRetryDelay
            state.withLock { $0.stuck[name] = retry }
            context.logger.error(
                "Could not move a request file out of incoming/; will try again",
                metadata: ["spool.file": "\(name)", "error": "\(error)", "retry.at": "\(retry)"]
            )
            return false
        }
    }

    // MARK: - Restart

    /// Finishes moves a previous run committed but did not complete.
    private func settleUnsettled() async throws {
        let unsettled = state.withLock { $0.unsettled }
        guard !unsettled.isEmpty else { return }
        let present = Set(try await spool.incomingNames())
        for (name, entry) in unsettled where !present.contains(name) {
            state.withLock { _ = $0.unsettled.removeValue(forKey: name) }
            try await context.commit([.sourceSettled(entry.jobID)], for: .intake)
        }
        // Files still present are settled by `process` when it reads them and the hash matches.
    }

    private func settle(_ jobID: JobID, _ source: SourceFile) async throws {
        let moved = await move(source.name) {
            switch source.disposition {
            case .remove: try await self.spool.remove(source.name)
            case .reject: try await self.spool.reject(source.name, errorDocument: source.errorDocument ?? [])
            }
        }
        if moved {
            try await spool.flush()
            try await context.commit([.sourceSettled(jobID)], for: .intake)
        }
        context.logger.notice(
            "Finished moving a request file committed before a restart",
            metadata: ["spool.file": "\(source.name)", "job.id": "\(jobID)"]
        )
    }
}
