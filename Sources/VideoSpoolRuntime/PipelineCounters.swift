import Synchronization

/// Live counts for status lines and the demo: how many jobs are where.
public final class PipelineCounters: Sendable {
    /// Where every job stands, and what keeps the daemon from working as usual: the one shape of
    /// `STATUS=` (and the demo's progress lines). The counts come first, always in the same order;
    /// then the conditions in force, most severe first (``Condition/Kind``), each as
    /// "what: why", separated by "; ":
    ///
    ///     3 queued, 12 generating, 1 delivering, 240 done, 2 failed, 0 rejected; store unavailable:
    ///     disk full; submissions paused: HTTP 401 (…); API limited: concurrency 2 of 8 after 429s
    public struct Snapshot: Sendable, Hashable, CustomStringConvertible {
        /// Request files the first scan listed that the intake has not read yet: the backlog found
        /// at start-up, read after READY (shown only when there are any).
        public var unread = 0
        public var queued = 0
        public var submitting = 0
        public var generating = 0
        /// Completed generations whose videos are being stored (shown only when there are any).
        public var storing = 0
        public var delivering = 0
        public var completed = 0
        public var failed = 0
        public var rejected = 0
        /// Why this daemon may not act on any job (its lease on a shared store is gone).
        public var leaseLost: String?
        /// Why the job store cannot be written, while commits wait for it.
        public var storeUnavailable: String?
        /// Why submissions are paused, if they are.
        public var submissionsPaused: String?
        /// The budget limit that stops submissions, and until when, if one does.
        public var budgetReached: String?
        /// Why polls are paused, if they are.
        public var pollingPaused: String?
        /// The API request limits, while 429s keep them below the configuration.
        public var apiLimits: APIRateLimiter.Status?
        /// The generations-in-flight limit, while 429s to submissions keep it below the configuration.
        public var generationLimit: GenerationLimit.Status?
        /// Why videos are not being stored right now (the results directory is full); downloads
        /// are retried, and polling and webhooks go on.
        public var downloadsStalled: String?
        /// Which store the daemon shares and as whom, last on the line (`nil` for SQLite, so a
        /// single daemon's line is as it always was).
        public var sharedStore: String?

        public init() {}

        /// Something that keeps the daemon from working as usual.
        public struct Condition: Sendable, Hashable, CustomStringConvertible {
            /// Every condition there is, most severe first: the order of the status line.
            public enum Kind: Int, Sendable, Hashable, Comparable, CaseIterable {
                /// This daemon acts on nothing until it has registered again.
                case leaseLost
                /// Nothing durable can change, so every job waits.
                case storeUnavailable
                /// No job is sent to the API.
                case submissionsPaused
                /// No job is sent to the API until a budget window moves on (or the limit is raised).
                case budgetReached
                /// No generation is polled, so none is seen to finish.
                case pollingPaused
                /// Requests go out, more slowly than configured.
                case apiLimited
                /// Videos wait to be stored; everything else goes on.
                case downloadsStalled

                public static func < (lhs: Kind, rhs: Kind) -> Bool { lhs.rawValue < rhs.rawValue }

                /// How the status line names it.
                public var label: String {
                    switch self {
                    case .leaseLost: "lease lost"
                    case .storeUnavailable: "store unavailable"
                    case .submissionsPaused: "submissions paused"
                    case .budgetReached: "budget reached"
                    case .pollingPaused: "polling paused"
                    case .apiLimited: "API limited"
                    case .downloadsStalled: "downloads stalled"
                    }
                }
            }

            public let kind: Kind
            /// Why, in a few words.
            public let detail: String

            public init(_ kind: Kind, _ detail: String) {
                self.kind = kind
                self.detail = detail
            }

            public var description: String { "\(kind.label): \(detail)" }
        }

        /// The conditions in force, most severe first.
        public var conditions: [Condition] {
            var conditions: [Condition] = []
            if let leaseLost { conditions.append(Condition(.leaseLost, leaseLost)) }
            if let storeUnavailable { conditions.append(Condition(.storeUnavailable, storeUnavailable)) }
            if let submissionsPaused { conditions.append(Condition(.submissionsPaused, submissionsPaused)) }
            if let budgetReached { conditions.append(Condition(.budgetReached, budgetReached)) }
            if let pollingPaused { conditions.append(Condition(.pollingPaused, pollingPaused)) }
            var limits: [String] = []
            if let apiLimits {
                if apiLimits.concurrencyLimit < apiLimits.maximumConcurrency {
                    limits.append(
                        "concurrency \(apiLimits.concurrencyLimit) of \(apiLimits.maximumConcurrency) after 429s"
                    )
                }
                if let heldUntil = apiLimits.heldUntil { limits.append("requests held until \(heldUntil)") }
            }
            if let generationLimit, generationLimit.isReduced {
                limits.append("generations in flight \(generationLimit.limit) of \(generationLimit.maximum) after 429s")
            }
            if !limits.isEmpty { conditions.append(Condition(.apiLimited, limits.joined(separator: ", "))) }
            if let downloadsStalled { conditions.append(Condition(.downloadsStalled, downloadsStalled)) }
            // Stable: two conditions of one kind keep the order they were found in.
            return conditions.enumerated().sorted { ($0.element.kind, $0.offset) < ($1.element.kind, $1.offset) }
                .map(\.element)
        }

        public var description: String {
            let storingPart = storing > 0 ? "\(storing) storing, " : ""
            let unreadPart = unread > 0 ? "\(unread) \(unread == 1 ? "file" : "files") to read, " : ""
            let counts = unreadPart + "\(queued) queued, \(submitting + generating) generating, " + storingPart
                + "\(delivering) delivering, \(completed) done, \(failed) failed, \(rejected) rejected"
            return ([counts] + conditions.map(\.description) + [sharedStore].compactMap { $0 }).joined(separator: "; ")
        }
    }

    private let state = Mutex(Snapshot())

    public init() {}

    public var snapshot: Snapshot { state.withLock { $0 } }

    func update(_ body: (inout Snapshot) -> Void) {
        state.withLock { body(&$0) }
    }
}
