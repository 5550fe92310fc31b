import Testing
import VideoSpoolCore

private let start = referenceTime
/// The default: `api.pause_seconds: 30`, doubling up to 10 min, ±10 %.
private let defaultSchedule = PipelinePolicy().authenticationPause
private let reason = "HTTP 401 (the API key was not accepted): nope"

private func seconds(_ from: Timestamp, _ to: Timestamp?) -> Double {
    to.map { ($0 - from).secondsDouble } ?? .nan
}

struct AuthenticationPauseTests {
    // MARK: - Durations

    @Test func theFirstRefusalPausesForPauseSecondsAndThenAdmitsOneProbe() {
        for seed in jitterSeeds {
            var random = SplitMix64(seed: seed)
            var pause = AuthenticationPause()
            let action = pause.refused(.regular(round: 0), reason: reason, now: start, schedule: defaultSchedule, using: &random)
            guard case .pause(let until, let given) = action else {
                Issue.record("expected .pause, got \(action)")
                return
            }
            #expect((27.0...33.0).contains(seconds(start, until)), "30 s ± 10 %")
            #expect(given == reason)
            #expect(pause.reason == reason)
            #expect(pause.resumeAt == until)
            #expect(pause.admission(now: start) == .closed(until: until))
            #expect(pause.admission(now: until - .milliseconds(1)) == .closed(until: until))
            #expect(pause.admission(now: until) == .probeDue)
        }
    }

    @Test func thePauseDoublesOnlyWithEachRefusedProbeUpToTheMaximum() {
        var random = SplitMix64(seed: 1)
        let schedule = Backoff(initial: .seconds(30), maximum: .seconds(600), jitter: 0)
        var pause = AuthenticationPause()
        var now = start
        guard case .pause(var until, _) = pause.refused(.regular(round: 0), reason: reason, now: now, schedule: schedule, using: &random)
        else {
            Issue.record("no pause")
            return
        }
        var lengths = [seconds(now, until)]
        for failed in 1...7 {
            now = until
            #expect(pause.admission(now: now) == .probeDue)
            pause.probeSent()
            let action = pause.refused(.probe, reason: reason, now: now, schedule: schedule, using: &random)
            guard case .pauseAgain(let next, _, let failedProbes) = action else {
                Issue.record("expected .pauseAgain, got \(action)")
                return
            }
            #expect(failedProbes == failed)
            lengths.append(seconds(now, next))
            until = next
        }
        #expect(lengths == [30, 60, 120, 240, 480, 600, 600, 600])
    }

    @Test func theDoubledPauseKeepsItsJitterAndItsCap() {
        for seed in jitterSeeds {
            var random = SplitMix64(seed: seed)
            var pause = AuthenticationPause()
            _ = pause.refused(.regular(round: 0), reason: reason, now: start, schedule: defaultSchedule, using: &random)
            var lengths: [Double] = []
            for _ in 0..<10 {
                let now = pause.resumeAt ?? start
                pause.probeSent()
                let action = pause.refused(.probe, reason: reason, now: now, schedule: defaultSchedule, using: &random)
                guard case .pauseAgain(let until, _, _) = action else {
                    Issue.record("expected .pauseAgain, got \(action)")
                    return
                }
                lengths.append(seconds(now, until))
            }
            #expect((54.0...66.0).contains(lengths[0]), "30 s × 2 ± 10 %")
            #expect((108.0...132.0).contains(lengths[1]), "30 s × 2² ± 10 %")
            #expect(lengths.allSatisfy { $0 <= 660 }, "capped at 600 s + 10 %: \(lengths)")
        }
    }

    // MARK: - One pause per episode

    /// Eight requests were on the wire when the key was refused: eight refusals, one pause.
    @Test func refusalsOfRequestsAlreadyInFlightNeitherExtendNorDoubleThePause() {
        var random = SplitMix64(seed: 2)
        let schedule = Backoff(initial: .seconds(2), maximum: .seconds(600), jitter: 0)
        var pause = AuthenticationPause()
        guard case .open(let origin) = pause.admission(now: start) else {
            Issue.record("a new pause is open")
            return
        }
        let first = pause.refused(origin, reason: reason, now: start, schedule: schedule, using: &random)
        #expect(first == .pause(until: start + .seconds(2), reason: reason))
        for late in 1..<8 {
            let now = start + .milliseconds(100 * late)
            #expect(pause.refused(origin, reason: "another reason", now: now, schedule: schedule, using: &random) == .none)
        }
        // Even an answer later than the pause itself changes nothing; nor does a late success.
        #expect(pause.refused(origin, reason: reason, now: start + .seconds(3), schedule: schedule, using: &random) == .none)
        #expect(pause.accepted(origin) == .none)
        #expect(pause.resumeAt == start + .seconds(2))
        #expect(pause.reason == reason)

        // The probe is refused: the second pause is twice the first, not 2⁸ times.
        let probeTime = start + .seconds(2)
        #expect(pause.admission(now: probeTime) == .probeDue)
        pause.probeSent()
        let second = pause.refused(.probe, reason: reason, now: probeTime, schedule: schedule, using: &random)
        #expect(second == .pauseAgain(until: probeTime + .seconds(4), reason: reason, failedProbes: 1))
    }

    @Test func exactlyOneProbeIsOutAtATime() {
        var random = SplitMix64(seed: 3)
        let schedule = Backoff(initial: .seconds(2), maximum: .seconds(600), jitter: 0)
        var pause = AuthenticationPause()
        _ = pause.refused(.regular(round: 0), reason: reason, now: start, schedule: schedule, using: &random)
        pause.probeSent()
        // However long the probe takes, nothing else is admitted until it is answered.
        for later in [2, 10, 3600] {
            #expect(pause.admission(now: start + .seconds(later)) == .closed(until: nil))
        }
        // Late answers of other requests do not decide in the probe's place.
        #expect(pause.refused(.regular(round: 0), reason: reason, now: start + .seconds(3), schedule: schedule, using: &random) == .none)
        #expect(pause.accepted(.regular(round: 0)) == .none)
        #expect(pause.admission(now: start + .seconds(3)) == .closed(until: nil))
        #expect(pause.accepted(.probe) == .resume)
        #expect(pause.reason == nil)
    }

    // MARK: - Resuming

    @Test func anAcceptedProbeResumesAndTheNextEpisodeStartsFromPauseSecondsAgain() {
        var random = SplitMix64(seed: 4)
        let schedule = Backoff(initial: .seconds(2), maximum: .seconds(600), jitter: 0)
        var pause = AuthenticationPause()
        let oldRound = AuthenticationPause.Origin.regular(round: 0)
        _ = pause.refused(oldRound, reason: reason, now: start, schedule: schedule, using: &random)
        var now = start
        for _ in 0..<3 {
            now = pause.resumeAt ?? now
            pause.probeSent()
            _ = pause.refused(.probe, reason: reason, now: now, schedule: schedule, using: &random)
        }
        now = pause.resumeAt ?? now
        pause.probeSent()
        #expect(pause.accepted(.probe) == .resume)
        guard case .open(let newRound) = pause.admission(now: now) else {
            Issue.record("requests flow after an accepted probe")
            return
        }
        #expect(newRound != oldRound)
        #expect(pause.resumeAt == nil)

        // A refusal of a request sent before that pause is older news than the probe: ignored.
        #expect(pause.refused(oldRound, reason: reason, now: now, schedule: schedule, using: &random) == .none)
        #expect(pause.admission(now: now) == .open(newRound))

        // A fresh refusal is a new episode, and it starts from api.pause_seconds, not from 16 s.
        let fresh = pause.refused(newRound, reason: reason, now: now, schedule: schedule, using: &random)
        #expect(fresh == .pause(until: now + .seconds(2), reason: reason))
    }

    /// The issue's burst: `api.pause_seconds: 2`, eight requests in flight, and an API that
    /// refuses the key for 5 s. Submissions resume within `api.pause_seconds` of the API accepting
    /// the key again (the doubling per answer used to make that 61 s to 10 min).
    @Test func aFiveSecondBurstOfRefusalsEndsWithinPauseSecondsOfTheAPIAcceptingAgain() {
        let schedule = Backoff(initial: .seconds(2), maximum: .seconds(600), jitter: 0.1)
        let acceptsAgainAt = start + .seconds(5)
        for seed in jitterSeeds {
            var random = SplitMix64(seed: seed)
            var pause = AuthenticationPause()
            var probes = 0
            for inFlight in 0..<8 {
                let now = start + .milliseconds(20 * inFlight)
                _ = pause.refused(.regular(round: 0), reason: reason, now: now, schedule: schedule, using: &random)
            }
            var resumedAt: Timestamp?
            while resumedAt == nil, probes < 10 {
                guard let now = pause.resumeAt else { break }
                pause.probeSent()
                probes += 1
                if now < acceptsAgainAt {
                    _ = pause.refused(.probe, reason: reason, now: now, schedule: schedule, using: &random)
                } else if pause.accepted(.probe) == .resume {
                    resumedAt = now
                }
            }
            let delay = seconds(acceptsAgainAt, resumedAt)
            #expect(delay <= 2, "resumed \(delay) s after the API accepted again (seed \(seed))")
            #expect(probes == 2, "a probe at about 2 s, refused, then one at about 6 s")
        }
    }
}
