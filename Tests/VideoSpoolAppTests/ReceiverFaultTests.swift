import Foundation
import Hummingbird
import Testing
import VideoSpoolApp
import VideoSpoolCore
import VideoSpoolFileSystem
import VideoSpoolRuntime
import VideoSpoolSimulator
import VideoSpoolTesting

/// Webhook receivers misbehaving in every way the issue lists, against the real daemon: retries
/// follow `webhooks.retry_schedule_seconds` (±20 %), `Retry-After` and the overload rule, 410 and
/// the end of the schedule stop them, redirects are not followed, bodies are read only up to a
/// cap, and one dead receiver never delays delivery to another (docs/webhooks.md).
@Suite(.timeLimit(.minutes(3)))
struct ReceiverFaultTests {
    /// One receiver behaviour and where its delivery must end up.
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        /// Path on the simulator's receiver, which answers according to it.
        var path: String
        var webhookTimeoutSeconds = 15.0
        /// Attempts the receiver sees before the delivery stops (or waits a minute: `penalised`).
        var attempts: Int
        var state: String
        var lastStatus: Int?
        /// Text `last_error` must contain.
        var lastError: String?
        /// The least delay before each retry, before the −20 % of jitter (`Retry-After` is not jittered).
        var delays: [Double] = []
        /// After a timeout or a 429 the next attempt is at least 60 s away; the delivery stays pending.
        var penalised = false

        var testDescription: String { name }
    }

    static let schedule = FaultRig.webhookSchedule

    static let cases: [Case] = [
        Case(name: "204", path: "/webhooks/fine", attempts: 1, state: "delivered", lastStatus: 204),
        Case(
            name: "500 until the schedule is used up",
            path: "/webhooks/status/500",
            attempts: 4,
            state: "failed",
            lastStatus: 500,
            lastError: "HTTP 500",
            delays: schedule
        ),
        Case(
            name: "404 is retried like any other failure",
            path: "/webhooks/status/404",
            attempts: 4,
            state: "failed",
            lastStatus: 404,
            lastError: "HTTP 404",
            delays: schedule
        ),
        Case(
            name: "503 with Retry-After 1",
            path: "/webhooks/status/503?retry_after=1",
            attempts: 4,
            state: "failed",
            lastStatus: 503,
            lastError: "HTTP 503",
            delays: [1, 1, 1]
        ),
        Case(name: "410 Gone", path: "/webhooks/status/410", attempts: 1, state: "gone", lastStatus: 410, lastError: "410 Gone"),
        Case(
            name: "301 not followed",
            path: "/webhooks/redirect/301",
            attempts: 4,
            state: "failed",
            lastStatus: 301,
            lastError: "redirect to https://elsewhere.invalid/webhooks (not followed",
            delays: schedule
        ),
        Case(
            name: "307 not followed",
            path: "/webhooks/redirect/307",
            attempts: 4,
            state: "failed",
            lastStatus: 307,
            lastError: "redirect to https://elsewhere.invalid/webhooks (not followed",
            delays: schedule
        ),
        Case(name: "429", path: "/webhooks/status/429", attempts: 1, state: "pending", lastStatus: 429, penalised: true),
        Case(
            name: "accepts, then hangs past the timeout",
            path: "/webhooks/hang",
            webhookTimeoutSeconds: 0.3,
            attempts: 1,
            state: "pending",
            lastError: "timed out",
            penalised: true
        ),
    ]

    struct Arrival: Sendable {
        let item: WebhookReceiver.Received
        let at: ContinuousClock.Instant
    }

    @Test(arguments: cases)
    func aReceiverFaultIsRetriedOrStoppedAsDocumented(_ fault: Case) async throws {
        try await withTemporaryDirectory { root in
            let simulator = FaultRig.simulator()
            try await simulator.withRunningServer { port in
                let rig = FaultRig(root: root, simulator: simulator, port: port) { settings in
                    settings.webhookTimeoutSeconds = fault.webhookTimeoutSeconds
                }
                let request = FaultRig.request(prompt: "receiver: \(fault.name)", jobID: "hook", callbacks: [rig.hook(fault.path)])
                let arrivals = try await rig.run { daemon in
                    try FaultRig.drop(request, jobID: "hook", into: daemon)
                    return try await withTimeout(.seconds(30), waitingFor: "\(fault.attempts) attempt(s)") {
                        var arrivals: [Arrival] = []
                        for await item in simulator.receiver.subscribe() {
                            arrivals.append(Arrival(item: item, at: .now))
                            if arrivals.count == fault.attempts { break }
                        }
                        return arrivals
                    }
                }
                // The daemon has stopped: the last attempt finished and the outcome file is final.
                #expect(simulator.receiver.received.count == fault.attempts, "no attempt beyond the expected ones")
                let ids = Set(arrivals.map(\.item.webhookID))
                #expect(ids.count == 1 && ids.first??.hasPrefix("msg_") == true, "one webhook-id on every attempt: \(ids)")
                #expect(arrivals.allSatisfy { $0.item.signatureValid == true })
                #expect(arrivals.allSatisfy { $0.item.path == fault.path.split(separator: "?").first.map(String.init) })

                for (index, delay) in fault.delays.enumerated() where index + 1 < arrivals.count {
                    let gap = (arrivals[index + 1].at - arrivals[index].at).secondsDouble
                    let least = (fault.path.contains("retry_after") ? delay : delay * 0.8) - FaultRig.observationSlack
                    #expect(gap >= least, "retry \(index + 1) came \(gap) s after attempt \(index + 1); at least \(least) s")
                }

                let outcome = try rig.outcome("hook")
                #expect(outcome.directory == "done", "the job itself completed")
                let delivery = try #require(outcome.deliveries.first)
                #expect(delivery["state"]?.stringValue == fault.state)
                #expect(delivery["attempts"]?.numberValue?.int64Value == Int64(fault.attempts))
                #expect(delivery["last_status"]?.numberValue?.int64Value == fault.lastStatus.map(Int64.init))
                if let lastError = fault.lastError {
                    #expect(delivery["last_error"]?.stringValue?.contains(lastError) == true, "\(delivery)")
                }
                #expect(delivery["url"]?.stringValue?.contains("retry_after") == false, "query strings are removed: \(delivery)")
                let next = FaultRig.instant(delivery["next_attempt_at"])
                if fault.penalised {
                    let last = try #require(FaultRig.instant(delivery["last_attempt_at"]))
                    let wait = try #require(next).timeIntervalSince(last)
                    #expect(wait >= 59.9, "after a timeout or a 429 the next delay is at least 60 s, got \(wait) s")
                } else {
                    #expect(next == nil, "the delivery ended: \(delivery)")
                }
                if fault.state == "delivered" {
                    #expect(FaultRig.instant(delivery["delivered_at"]) != nil)
                }
            }
        }
    }

    /// A refused connection is retried on the schedule and then given up, while the job's other
    /// callback is delivered on its own.
    @Test func aClosedPortIsRetriedOnTheScheduleWhileTheOtherCallbackIsDelivered() async throws {
        try await withTemporaryDirectory { root in
            let simulator = FaultRig.simulator()
            let closed = try await LoopbackServer.closedPort()
            try await simulator.withRunningServer { port in
                let rig = FaultRig(root: root, simulator: simulator, port: port) { settings in
                    // AsyncHTTPClient retries a refused connect until the attempt's deadline.
                    settings.webhookTimeoutSeconds = 0.5
                }
                let dead = "http://127.0.0.1:\(closed)/webhooks/closed"
                let request = FaultRig.request(prompt: "closed", jobID: "closed", callbacks: [dead, rig.hook("/webhooks/open")])
                let (givenUp, retries) = try await rig.run { daemon in
                    let log = rig.log.subscribe()
                    try FaultRig.drop(request, jobID: "closed", into: daemon)
                    let givenUp = try await withTimeout(.seconds(30), waitingFor: "the closed port given up") {
                        try #require(try await log.collect(1) { $0["event"] == "webhook.given_up" }.first)
                    }
                    let retries = rig.log.entries.filter { $0.message == "Webhook delivery failed; will retry" }
                    return (givenUp, retries)
                }
                #expect(givenUp["delivery.state"] == "failed")
                #expect(retries.count == Self.schedule.count)
                #expect(retries.allSatisfy { $0["error"]?.contains("connection refused") == true }, "\(retries)")

                let received = simulator.receiver.received
                #expect(received.map(\.path) == ["/webhooks/open"], "the open callback got its one attempt")
                let outcome = try rig.outcome("closed")
                #expect(outcome.deliveries.count == 2)
                let closedDelivery = try #require(outcome.deliveries.first)
                #expect(closedDelivery["state"]?.stringValue == "failed")
                #expect(closedDelivery["attempts"]?.numberValue?.int64Value == Int64(Self.schedule.count + 1))
                #expect(closedDelivery["last_status"] == .null)
                #expect(closedDelivery["last_error"]?.stringValue?.contains("connection refused") == true, "\(closedDelivery)")
                let openDelivery = try #require(outcome.deliveries.last)
                #expect(openDelivery["state"]?.stringValue == "delivered")
                #expect(openDelivery["attempts"]?.numberValue?.int64Value == 1)
            }
        }
    }

    /// A receiver that answers 200 with five megabytes: the status counts, the body is read only
    /// up to the cap.
    @Test func aHugeResponseBodyIsCappedAndTheDeliverySucceeds() async throws {
        let (arrivals, arrived) = AsyncStream.makeStream(of: Void.self)
        let router = Router()
        router.post("/huge") { _, _ -> Response in
            arrived.yield()
            return Response(
                status: .ok,
                body: ResponseBody(byteBuffer: ByteBuffer(repeating: UInt8(ascii: "x"), count: 5 * 1024 * 1024))
            )
        }
        try await withTemporaryDirectory { root in
            let simulator = FaultRig.simulator()
            try await LoopbackServer.serve(router) { receiverPort in
                try await simulator.withRunningServer { port in
                    let rig = FaultRig(root: root, simulator: simulator, port: port)
                    let hook = "http://127.0.0.1:\(receiverPort)/huge"
                    let request = FaultRig.request(prompt: "huge", jobID: "huge", callbacks: [hook])
                    try await rig.run { daemon in
                        try FaultRig.drop(request, jobID: "huge", into: daemon)
                        _ = try await withTimeout(.seconds(30), waitingFor: "the attempt") { try await arrivals.collect(1) }
                    }
                    let delivery = try #require(try rig.outcome("huge").deliveries.first)
                    #expect(delivery["state"]?.stringValue == "delivered", "\(delivery)")
                    #expect(delivery["attempts"]?.numberValue?.int64Value == 1)
                    #expect(delivery["last_status"]?.numberValue?.int64Value == 200)
                }
            }
        }
    }

    /// Ten deliveries hang on one host (eight at a time, the per-host limit); a delivery to another
    /// host goes through while they are all still open.
    @Test func aDeadReceiverNeverDelaysDeliveryToAnotherHost() async throws {
        try await withTemporaryDirectory { root in
            let simulator = FaultRig.simulator()
            try await simulator.withRunningServer { port in
                // Long enough that a loaded machine gets the healthy job through intake, submission,
                // polling and delivery before the dead attempts time out.
                let timeout = 10.0
                let rig = FaultRig(root: root, simulator: simulator, port: port) { settings in
                    settings.webhookTimeoutSeconds = timeout
                }
                // Both loopback; the per-host limit keys on the host name.
                let dead = rig.hook("/webhooks/hang", host: "localhost")
                let healthy = rig.hook("/webhooks/healthy", host: "127.0.0.1")
                let perHost = 8
                let deadCount = 10
                try await rig.run { daemon in
                    for index in 0..<deadCount {
                        let request = FaultRig.request(prompt: "dead \(index)", jobID: "dead-\(index)", callbacks: [dead])
                        try FaultRig.drop(request, jobID: "dead-\(index)", into: daemon)
                    }
                    let hanging = try await withTimeout(.seconds(30), waitingFor: "\(perHost) hanging attempts") {
                        try await simulator.receiver.subscribe().collect(perHost) { $0.path == "/webhooks/hang" }
                    }
                    let firstHang = ContinuousClock.now
                    #expect(hanging.count == perHost)

                    let request = FaultRig.request(prompt: "healthy", jobID: "healthy", callbacks: [healthy])
                    try FaultRig.drop(request, jobID: "healthy", into: daemon)
                    let delivered = try await withTimeout(.seconds(30), waitingFor: "the healthy delivery") {
                        try #require(try await simulator.receiver.subscribe().collect(1) { $0.path == "/webhooks/healthy" }.first)
                    }
                    let elapsed = (ContinuousClock.now - firstHang).secondsDouble
                    #expect(delivered.answeredStatus == 204)
                    // Every hanging attempt is still open: none has timed out, and no more than the
                    // per-host limit were started.
                    #expect(elapsed < timeout, "the healthy delivery took \(elapsed) s, past the dead ones' timeout")
                    #expect(!rig.log.entries.contains { $0.message == "Webhook delivery failed; will retry" })
                    #expect(simulator.receiver.received.filter { $0.path == "/webhooks/hang" }.count == perHost)
                }
                let healthyDelivery = try #require(try rig.outcome("healthy").deliveries.first)
                #expect(healthyDelivery["state"]?.stringValue == "delivered")
                for index in 0..<deadCount {
                    let delivery = try rig.outcome("dead-\(index)").deliveries.first
                    #expect(delivery?["state"]?.stringValue == "pending", "dead-\(index): \(String(describing: delivery))")
                }
            }
        }
    }
}
