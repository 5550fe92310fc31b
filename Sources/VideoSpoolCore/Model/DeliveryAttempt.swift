/// One attempt to deliver a webhook to one URL, kept for `videospool show`: deliveries themselves
/// only hold their latest state.
public struct DeliveryAttempt: Sendable, Hashable {
    public let deliveryID: Delivery.ID
    public let jobID: JobID
    /// 1 for the first attempt of a delivery (a redelivery starts again at 1).
    public let number: Int
    public let startedAt: Timestamp
    public let latency: Duration
    public let statusCode: Int?
    public let error: String?
    /// The delivery's state after this attempt (`pending` when it will be retried).
    public let resultingState: Delivery.State

    public init(
        deliveryID: Delivery.ID,
        jobID: JobID,
        number: Int,
        startedAt: Timestamp,
        latency: Duration,
        statusCode: Int?,
        error: String?,
        resultingState: Delivery.State
    ) {
        self.deliveryID = deliveryID
        self.jobID = jobID
        self.number = number
        self.startedAt = startedAt
        self.latency = latency
        self.statusCode = statusCode
        self.error = error
        self.resultingState = resultingState
    }
}

/// A change of a job's phase, as the store recorded it when it committed the change.
public struct JobTransition: Sendable, Hashable {
    public let jobID: JobID
    /// `nil` for the job's creation.
    public let from: JobPhase?
    public let to: JobPhase
    public let at: Timestamp
    /// The failure code of a job that ended without a video.
    public let detail: String?

    public init(jobID: JobID, from: JobPhase?, to: JobPhase, at: Timestamp, detail: String?) {
        self.jobID = jobID
        self.from = from
        self.to = to
        self.at = at
        self.detail = detail
    }
}
