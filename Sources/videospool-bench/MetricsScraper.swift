import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Scrapes the daemon's `GET /metrics` over its unix socket at Prometheus' pace (faster, in fact:
/// Prometheus' default is every 15 s), so the cost of rendering is part of what is measured.
struct MetricsScraper {
    static let interval = Duration.seconds(1)

    let socket: String

    struct Scrapes: Sendable {
        var succeeded = 0
        var failed = 0
        var bytes = 0
    }

    /// Scrapes until cancelled; the socket may not exist yet for the first tries (counted as failed
    /// only once the daemon has served one).
    func start() -> Task<Scrapes, any Error> {
        let socket = self.socket
        return Task {
            var scrapes = Scrapes()
            guard let url = URL(httpURLWithSocketPath: socket, uri: "/metrics") else { throw BenchError("bad socket path \(socket)") }
            while !Task.isCancelled {
                do {
                    let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url.absoluteString), timeout: .seconds(5))
                    let body = try await response.body.collect(upTo: 64 << 20)
                    if response.status == .ok, body.readableBytesView.count > 0 {
                        scrapes.succeeded += 1
                        scrapes.bytes += body.readableBytes
                    } else {
                        scrapes.failed += 1
                    }
                } catch is CancellationError {
                    break
                } catch {
                    if scrapes.succeeded > 0 { scrapes.failed += 1 }
                }
                try? await Task.sleep(for: Self.interval)
            }
            return scrapes
        }
    }
}
