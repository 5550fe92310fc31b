import Testing
import VideoSpoolApp

/// `metrics.listen`: host:port, a bracketed IPv6 address, or a unix socket path.
struct MetricsListenAddressTests {
    @Test func theAcceptedFormsParse() throws {
        #expect(try MetricsListenAddress(parsing: "127.0.0.1:9464") == .tcp(host: "127.0.0.1", port: 9464))
        #expect(try MetricsListenAddress(parsing: "[::1]:9464") == .tcp(host: "::1", port: 9464))
        #expect(try MetricsListenAddress(parsing: "localhost:80") == .tcp(host: "localhost", port: 80))
        #expect(try MetricsListenAddress(parsing: "/run/videospool/metrics.sock") == .unixSocket(path: "/run/videospool/metrics.sock"))
        #expect("\(try MetricsListenAddress(parsing: "[::1]:9464"))" == "[::1]:9464")
    }

    @Test(arguments: ["9464", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", ":9464", "[::1:9464", "metrics.sock", "host:port"])
    func anythingElseIsAnErrorNamingTheKey(_ text: String) {
        #expect {
            try MetricsListenAddress(parsing: text)
        } throws: { error in
            (error as? ConfigurationError)?.key == "metrics.listen"
        }
    }
}
