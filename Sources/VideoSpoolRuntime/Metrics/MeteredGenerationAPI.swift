import VideoSpoolCore

/// Counts and times every API request, whichever service sends it.
struct MeteredGenerationAPI: GenerationAPI {
    let api: any GenerationAPI
    let metrics: PipelineMetrics

    func submit(body: [UInt8], jobID: JobID) async -> APIExchange {
        let started = ContinuousClock.now
        let exchange = await api.submit(body: body, jobID: jobID)
        metrics.apiRequest(.submit, exchange: exchange, latency: .now - started)
        return exchange
    }

    func status(of generationID: String, jobID: JobID) async -> APIExchange {
        let started = ContinuousClock.now
        let exchange = await api.status(of: generationID, jobID: jobID)
        metrics.apiRequest(.poll, exchange: exchange, latency: .now - started)
        return exchange
    }
}
