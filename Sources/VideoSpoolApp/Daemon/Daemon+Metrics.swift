import ServiceLifecycle

extension Daemon {
    /// `GET /metrics`, when `metrics.listen` is set. First in the service group, so it stops last.
    var metricsServices: [any Service] {
        guard let metrics, let address = metricsListen else { return [] }
        let pipeline = self.pipeline
        return [MetricsEndpoint(address: address, logger: logger) { metrics.exposition(of: pipeline) }]
    }
}
