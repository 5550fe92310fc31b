/// The daemon settings the scenarios change from the defaults, and why.
enum BenchConfiguration {
    /// Every generation is complete at its first poll, so poll at once; allow enough requests and
    /// generations in flight that the daemon, not the limits, sets the pace (the default rate limit,
    /// 1,000 requests/s, would cap a burst at about 330 jobs/s).
    static let throughputAPI = """
        max_requests_per_second: 100000
        max_concurrent_requests: 64
        max_in_flight_generations: 20000
        poll:
          first_delay_seconds: 0
        """

    /// Ten thousand generations in flight at once, polled on the default schedule and rate limit.
    static let waitingAPI = """
        max_concurrent_requests: 64
        max_in_flight_generations: 10000
        """
}

extension BenchConfiguration {
    /// What a new user tries first: the fixed schedule polling every second from the first second,
    /// and every job's generation allowed in flight at once. Everything else as shipped (8 API
    /// requests at once, 1,000 requests/s).
    static func moderateAPI(inFlight: Int) -> String {
        """
        max_in_flight_generations: \(inFlight)
        poll:
          schedule: fixed
          first_delay_seconds: 1
          interval_seconds: 1
        """
    }
}
