import Testing
import VideoSpoolCore
import VideoSpoolRuntime

/// The one shape of `STATUS=`: the counts, then the conditions in force, most severe first.
struct PipelineStatusTests {
    typealias Snapshot = PipelineCounters.Snapshot

    static let heldUntil = Timestamp(secondsSinceEpoch: 1_795_598_593)

    static func counts() -> Snapshot {
        var snapshot = Snapshot()
        snapshot.queued = 3
        snapshot.submitting = 2
        snapshot.generating = 10
        snapshot.delivering = 1
        snapshot.completed = 240
        snapshot.failed = 2
        return snapshot
    }

    /// Sets one condition of each kind on `snapshot`.
    static func set(_ kind: Snapshot.Condition.Kind, on snapshot: inout Snapshot) {
        switch kind {
        case .leaseLost: snapshot.leaseLost = "registering again"
        case .storeUnavailable: snapshot.storeUnavailable = "disk full"
        case .submissionsPaused: snapshot.submissionsPaused = "HTTP 401 (the API key was not accepted): bad key"
        case .budgetReached:
            snapshot.budgetReached = "$5.00 per 24 hours ($4.80 used, next ~$0.50) until 2026-11-30T08:00:00.000Z"
        case .pollingPaused: snapshot.pollingPaused = "HTTP 403 (the account may be out of credits): top up"
        case .apiLimited: snapshot.apiLimits = .init(concurrencyLimit: 2, maximumConcurrency: 8)
        case .downloadsStalled: snapshot.downloadsStalled = "/var/lib/videospool/videos is full"
        }
    }

    @Test func withNothingWrongTheStatusIsTheCounts() {
        #expect(Self.counts().description == "3 queued, 12 generating, 1 delivering, 240 done, 2 failed, 0 rejected")
        #expect(Self.counts().conditions.isEmpty)
    }

    @Test func everyConditionFollowsTheCountsMostSevereFirst() {
        var snapshot = Self.counts()
        // Set in the opposite order to the one they are shown in.
        for kind in Snapshot.Condition.Kind.allCases.reversed() { Self.set(kind, on: &snapshot) }
        #expect(
            snapshot.description
                == "3 queued, 12 generating, 1 delivering, 240 done, 2 failed, 0 rejected; lease lost: registering again; "
                + "store unavailable: disk full; "
                + "submissions paused: HTTP 401 (the API key was not accepted): bad key; "
                + "budget reached: $5.00 per 24 hours ($4.80 used, next ~$0.50) until 2026-11-30T08:00:00.000Z; "
                + "polling paused: HTTP 403 (the account may be out of credits): top up; "
                + "API limited: concurrency 2 of 8 after 429s; "
                + "downloads stalled: /var/lib/videospool/videos is full"
        )
    }

    @Test func theSeverityOrderIsLeaseThenStoreThenSubmissionsThenBudgetThenPollingThenAPILimitsThenDownloads() {
        #expect(
            Snapshot.Condition.Kind.allCases.sorted()
                == [
                    .leaseLost, .storeUnavailable, .submissionsPaused, .budgetReached, .pollingPaused, .apiLimited,
                    .downloadsStalled,
                ]
        )
    }

    @Test func aSharedStoreIsNamedLastWithTheDaemonsLease() {
        var snapshot = Self.counts()
        snapshot.sharedStore = "postgresql: instance 1a2b3c4d, lease held"
        snapshot.storeUnavailable = "database unreachable"
        #expect(
            snapshot.description
                == "3 queued, 12 generating, 1 delivering, 240 done, 2 failed, 0 rejected; "
                + "store unavailable: database unreachable; postgresql: instance 1a2b3c4d, lease held"
        )
    }

    /// Any two conditions together appear in severity order, and after the counts.
    @Test(arguments: PipelineCounters.Snapshot.Condition.Kind.allCases, PipelineCounters.Snapshot.Condition.Kind.allCases)
    func anyTwoConditionsAppearInSeverityOrder(first: Snapshot.Condition.Kind, second: Snapshot.Condition.Kind) throws {
        var snapshot = Self.counts()
        Self.set(first, on: &snapshot)
        Self.set(second, on: &snapshot)
        let expected = Set([first, second]).sorted()
        #expect(snapshot.conditions.map(\.kind) == expected)
        let parts = snapshot.description.split(separator: "; ").map(String.init)
        #expect(parts.first == "3 queued, 12 generating, 1 delivering, 240 done, 2 failed, 0 rejected")
        #expect(Array(parts.dropFirst()) == snapshot.conditions.map(\.description))
        for (part, kind) in zip(parts.dropFirst(), expected) {
            #expect(part.hasPrefix(kind.label + ": "), "\(part)")
        }
    }

    @Test func apiLimitsSayWhatIsLimited() {
        var snapshot = Snapshot()
        snapshot.apiLimits = .init(concurrencyLimit: 8, maximumConcurrency: 8, heldUntil: Self.heldUntil)
        #expect(snapshot.conditions.map(\.description) == ["API limited: requests held until \(Self.heldUntil)"])
        snapshot.apiLimits = .init(concurrencyLimit: 4, maximumConcurrency: 8, heldUntil: Self.heldUntil)
        #expect(
            snapshot.conditions.map(\.description)
                == ["API limited: concurrency 4 of 8 after 429s, requests held until \(Self.heldUntil)"]
        )
        // Limits at their configured values are no condition.
        snapshot.apiLimits = .init(concurrencyLimit: 8, maximumConcurrency: 8)
        #expect(snapshot.conditions.isEmpty)
        snapshot.generationLimit = .init(limit: 128, maximum: 128)
        #expect(snapshot.conditions.isEmpty)
        // A reduced in-flight limit joins the same condition.
        snapshot.apiLimits = .init(concurrencyLimit: 4, maximumConcurrency: 8)
        snapshot.generationLimit = .init(limit: 16, maximum: 128)
        #expect(
            snapshot.conditions.map(\.description)
                == ["API limited: concurrency 4 of 8 after 429s, generations in flight 16 of 128 after 429s"]
        )
    }
}
