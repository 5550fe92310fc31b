import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTLS
import NIOCore
import NIOSSL
import Testing
import VideoSpoolCore
import VideoSpoolHTTP
import VideoSpoolSimulator
import VideoSpoolTesting

/// Redirects: followed by the downloader itself, under the scheme rule and the address policy.
///
/// The simulator listens on 127.0.0.1, so every test opens 127.0.0.0/8 (`allowed_networks`) and keeps
/// `allow_private_networks` off: a redirect to another private range is then refused by the policy
/// while the same redirect to loopback is followed, which shows the refusal is the policy's.
@Suite(.timeLimit(.minutes(2)))
struct HTTPVideoDownloaderRedirectTests {
    static let jobID = JobID(trusted: "job-redirect")

    static func request(_ url: String, _ directory: String) -> VideoDownloadRequest {
        VideoDownloadRequest(url: url, jobID: jobID, directory: directory)
    }

    @Test func aRedirectToAnAllowedAddressIsFollowed() async throws {
        try await withResultsDirectory { directory in
            try await withDownloader(loopbackDownloads()) { downloader in
                let simulator = try videoSimulator()
                try await simulator.withRunningServer { _ in
                    let (id, url) = try completedGeneration(simulator)
                    simulator.api.setFaults([try FaultRule(parsing: "video:redirect=\(url)*1")])
                    let stored = try await downloader.download(Self.request(url, directory))
                    #expect(simulator.api.videoRequests.count == 2)
                    #expect(stored.sha256 == sha256Hex(SimulatedVideo(generationID: id).bytes))
                }
            }
        }
    }

    @Test func aRelativeRedirectIsResolvedAgainstTheLink() async throws {
        try await withResultsDirectory { directory in
            try await withDownloader(loopbackDownloads()) { downloader in
                let simulator = try videoSimulator()
                try await simulator.withRunningServer { _ in
                    let (id, url) = try completedGeneration(simulator)
                    // `<id>.mp4?…`, relative to `/_videos/`.
                    let relative = String(try #require(url.split(separator: "/").last))
                    simulator.api.setFaults([try FaultRule(parsing: "video:redirect=\(relative)*1")])
                    let stored = try await downloader.download(Self.request(url, directory))
                    #expect(simulator.api.videoRequests.map(\.generationID) == [id, id])
                    #expect(stored.bytes == SimulatedVideo(generationID: id).count)
                }
            }
        }
    }

    @Test(arguments: ["10.0.0.1", "192.168.1.1", "169.254.169.254", "[::1]"])
    func aRedirectToAPrivateAddressIsRefused(host: String) async throws {
        try await withResultsDirectory { directory in
            try await withDownloader(loopbackDownloads()) { downloader in
                let simulator = try videoSimulator()
                try await simulator.withRunningServer { port in
                    let url = try completedGeneration(simulator).url
                    simulator.api.setFaults([try FaultRule(parsing: "video:redirect=http://\(host):\(port)/latest/meta-data")])
                    let error = try #require(await downloadError(downloader, Self.request(url, directory)))
                    #expect(error.code == .addressRefused)
                    #expect(!error.isTransient)
                    #expect(error.message.contains(host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))), "\(error)")
                    #expect(simulator.api.videoRequests.count == 1)
                    #expect(try listing(directory) == [])
                }
            }
        }
    }

    @Test func aRedirectToANameThatResolvesToAPrivateAddressIsRefusedAndToLoopbackFollowed() async throws {
        let resolver = FixedResolver(answers: ["internal.test": [.v4(0x0A01_0203)], "cdn.test": [.v4(0x7F00_0001)]])
        try await withResultsDirectory { directory in
            try await withDownloader(loopbackDownloads(), resolver: resolver) { downloader in
                let simulator = try videoSimulator()
                try await simulator.withRunningServer { port in
                    let (id, url) = try completedGeneration(simulator)
                    let path = String(url.dropFirst("http://127.0.0.1:\(port)".count))
                    simulator.api.setFaults([try FaultRule(parsing: "video:redirect=http://internal.test:\(port)\(path)*1")])
                    let refused = try #require(await downloadError(downloader, Self.request(url, directory)))
                    #expect(refused.code == .addressRefused)
                    #expect(refused.message.contains("internal.test resolves to 10.1.2.3"), "\(refused)")

                    simulator.api.setFaults([try FaultRule(parsing: "video:redirect=http://cdn.test:\(port)\(path)*1")])
                    let stored = try await downloader.download(Self.request(url, directory))
                    #expect(stored.sha256 == sha256Hex(SimulatedVideo(generationID: id).bytes))
                    #expect(simulator.api.videoRequests.count == 3)
                }
            }
        }
    }

    @Test func moreThanFiveRedirectsAreRefused() async throws {
        try await withResultsDirectory { directory in
            try await withDownloader(loopbackDownloads()) { downloader in
                let simulator = try videoSimulator()
                try await simulator.withRunningServer { _ in
                    let url = try completedGeneration(simulator).url
                    // Every request redirects to the link itself.
                    simulator.api.setFaults([try FaultRule(parsing: "video:redirect=\(url)")])
                    let error = try #require(await downloadError(downloader, Self.request(url, directory)))
                    #expect(error.code == .redirectRefused)
                    #expect(!error.isTransient)
                    #expect(simulator.api.videoRequests.count == 6)
                }
            }
        }
    }

    @Test(arguments: ["file:///etc/passwd", "ftp://127.0.0.1/v.mp4", "http://user:secret@127.0.0.1/v.mp4"])
    func aRedirectOutsideHTTPIsRefused(location: String) async throws {
        try await withResultsDirectory { directory in
            try await withDownloader(loopbackDownloads()) { downloader in
                let simulator = try videoSimulator(faults: ["video:redirect=\(location)"])
                try await simulator.withRunningServer { _ in
                    let error = try #require(await downloadError(downloader, Self.request(try completedGeneration(simulator).url, directory)))
                    #expect(error.code == .redirectRefused)
                    #expect(!error.isTransient)
                    #expect(!error.message.contains("secret"))
                }
            }
        }
    }

    // MARK: - https to http

    /// `https://video.test:PORT/...` served with a certificate for video.test that only this
    /// downloader trusts: `/downgrade` redirects to the simulator's http link, `/upgrade` to
    /// `/clip` on the same https origin, which serves a few bytes.
    @Test func aRedirectFromHTTPSToHTTPIsRefusedUnlessHTTPIsAllowed() async throws {
        let certificate = try NIOSSLCertificate(bytes: Array(TestCertificate.pem.utf8), format: .pem)
        let key = try NIOSSLPrivateKey(bytes: Array(TestCertificate.key.utf8), format: .pem)
        var trusting = HTTPVideoDownloader.defaultClientConfiguration
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates([certificate])
        trusting.tlsConfiguration = tls
        let client = trusting
        let resolver = FixedResolver(answers: ["video.test": [.v4(0x7F00_0001)]])
        let simulator = try videoSimulator()
        try await simulator.withRunningServer { _ in
            let (id, httpLink) = try completedGeneration(simulator)
            let router = Router()
            router.get("/downgrade") { _, _ -> Response in Response(status: .found, headers: [.location: httpLink]) }
            router.get("/upgrade") { _, _ -> Response in Response(status: .found, headers: [.location: "/clip"]) }
            router.get("/clip") { _, _ -> Response in
                Response(status: .ok, headers: [.contentType: "video/mp4"], body: ResponseBody(byteBuffer: ByteBuffer(string: "secure")))
            }
            let serverTLS = TLSConfiguration.makeServerConfiguration(certificateChain: [.certificate(certificate)], privateKey: .privateKey(key))
            try await withLoopbackTLSServer(router, tls: serverTLS) { port in
                try await withResultsDirectory { directory in
                    try await withDownloader(loopbackDownloads(allowHTTP: false), resolver: resolver, clientConfiguration: client) {
                        downloader in
                        let secure = try await downloader.download(Self.request("https://video.test:\(port)/upgrade", directory))
                        #expect(try fileBytes(secure.path) == Array("secure".utf8))

                        let error = try #require(
                            await downloadError(downloader, Self.request("https://video.test:\(port)/downgrade", directory))
                        )
                        #expect(error.code == .redirectRefused)
                        #expect(!error.isTransient)
                        #expect(error.message.contains("not https"), "\(error)")
                        #expect(!error.message.contains("token="), "\(error)")
                        #expect(simulator.api.videoRequests.isEmpty)
                    }
                    // The same redirect is followed when http is allowed (api.base_url is http).
                    try await withDownloader(loopbackDownloads(allowHTTP: true), resolver: resolver, clientConfiguration: client) {
                        downloader in
                        let stored = try await downloader.download(Self.request("https://video.test:\(port)/downgrade", directory))
                        #expect(stored.sha256 == sha256Hex(SimulatedVideo(generationID: id).bytes))
                        #expect(simulator.api.videoRequests.count == 1)
                    }
                }
            }
        }
    }
}

/// Serves `router` over TLS on a loopback port until `body` returns.
func withLoopbackTLSServer<Result: Sendable>(
    _ router: Router<BasicRequestContext>,
    tls: TLSConfiguration,
    _ body: @Sendable (Int) async throws -> Result
) async throws -> Result {
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    let application = Application(
        router: router,
        server: try .tls(tlsConfiguration: tls),
        configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) },
        logger: quietLogger
    )
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask {
            defer { continuation.finish() }
            try await application.run()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            try await tasks.waitForAll()
            throw LoopbackServerError()
        }
        defer { tasks.cancelAll() }
        return try await body(port)
    }
}

/// A self-signed certificate for `video.test` (P-256, valid 2000–2100, its own CA) and its key,
/// made with `openssl ca -selfsign`; a test fixture, trusted only by the downloader in the test above.
enum TestCertificate {
    static let pem = """
        -----BEGIN CERTIFICATE-----
        MIIBijCCATCgAwIBAgICEAAwCgYIKoZIzj0EAwIwFTETMBEGA1UEAwwKdmlkZW8u
        dGVzdDAgFw0wMDAxMDEwMDAwMDBaGA8yMTAwMDEwMTAwMDAwMFowFTETMBEGA1UE
        AwwKdmlkZW8udGVzdDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABL6VipoHMI5S
        W8QsGKw93I1E6IJZ8QfcQqIHqjfqIipzk5cHkWnaLU7oDugDCURNsUJ4l4ocsZkf
        AdPgE6JnKrujbjBsMBUGA1UdEQQOMAyCCnZpZGVvLnRlc3QwDwYDVR0TAQH/BAUw
        AwEB/zATBgNVHSUEDDAKBggrBgEFBQcDATAOBgNVHQ8BAf8EBAMCAoQwHQYDVR0O
        BBYEFCF1CsjJGfb1AE9EV1OWQjCbLrnAMAoGCCqGSM49BAMCA0gAMEUCIGsb9Zth
        KL0XpiZuwYdjMpUNXiHibMarLPYKzewrNqDhAiEAsfybIguAc5KEPaiTaZI2NQhN
        SnHuy/pMZE73MO5LhX8=
        -----END CERTIFICATE-----

        """

    static let key = """
        -----BEGIN PRIVATE KEY-----
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgG8hgS5Xmm9sKnylw
        AlmZZNNkF6vHGtHprdfgzn8iKr6hRANCAAS+lYqaBzCOUlvELBisPdyNROiCWfEH
        3EKiB6o36iIqc5OXB5Fp2i1O6A7oAwlETbFCeJeKHLGZHwHT4BOiZyq7
        -----END PRIVATE KEY-----

        """
}
