import VideoSpoolCore

/// Counts and times every webhook attempt by the class of its answer.
struct MeteredWebhookTransport: WebhookTransport {
    let transport: any WebhookTransport
    let metrics: PipelineMetrics

    func send(_ request: WebhookRequest) async -> DeliveryStateMachine.AttemptResult {
        let started = ContinuousClock.now
        let result = await transport.send(request)
        metrics.webhookAttempt(result, latency: .now - started)
        return result
    }
}
