import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Testing
import VideoSpoolCore
import VideoSpoolObjectStorage
import VideoSpoolRuntime
import VideoSpoolSimulator
import VideoSpoolTesting

/// The built binary with `results.s3` against the simulator and moto's S3 server, which checks
/// every request's SigV4 signature: the video is uploaded after it is verified, announced with
/// its object and a presigned link, fetched back from the object, and deleted by a prune.
@Suite(.serialized, .enabled(if: MotoServer.canRun, Comment(rawValue: MotoServer.skipMessage)), .timeLimit(.minutes(5)))
struct ObjectStorageEndToEndTests {
    static let quietLogger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    static func s3Keys(root: String, server: MotoServer, endpoint: String? = nil) throws -> String {
        try write(server.credentials.accessKeyID + "\n", to: root + "/s3-access-key-id")
        try write(server.credentials.secretAccessKey + "\n", to: root + "/s3-secret")
        return """
            results:
              keep_local: false
              s3:
                endpoint: \(endpoint ?? server.endpoint)
                bucket: \(server.bucket)
                addressing_style: path
                key_prefix: "videos/{date}/{job_id}/"
                access_key_id_file: \(root)/s3-access-key-id
                secret_access_key_file: \(root)/s3-secret
                presign_seconds: 3600
                delete_on_prune: true
            """
    }

    static func storage(_ server: MotoServer, client: HTTPClient) throws -> S3ObjectStorage {
        S3ObjectStorage(
            configuration: S3Configuration(
                endpoint: try S3Endpoint(parsing: server.endpoint),
                bucket: server.bucket,
                keyPrefix: try S3KeyTemplate("videos/"),
                addressingStyle: .path
            ),
            credentials: server.credentials,
            httpClient: client,
            timeSource: SystemTimeSource(),
            logger: quietLogger
        )
    }

    static func sha256(_ bytes: [UInt8]) -> String {
        var digest = ContentDigest.Running()
        digest.update(bytes)
        return digest.finish()
    }

    /// Every file under `directory`, read whole.
    static func contents(under directory: String) -> [String] {
        let files = FileManager.default.enumerator(atPath: directory)?.compactMap { $0 as? String } ?? []
        return files.compactMap { try? String(contentsOfFile: directory + "/" + $0, encoding: .utf8) }
    }

    @Test func theVideoIsUploadedAnnouncedWithItsObjectFetchedBackAndPruned() async throws {
        try await MotoServer.with { server in
            try await withTemporaryDirectory { root in
                let simulator = EndToEndTests.simulator(generation: .milliseconds(100))
                try await simulator.withRunningServer { port in
                    try await Self.uploadFetchAndPrune(server: server, simulator: simulator, root: root, port: port)
                }
            }
        }
    }

    /// SIGKILL while the video is being uploaded (the storage has taken the connection and never
    /// answers): the next start, against a working storage, downloads and uploads again, and the
    /// job is announced once, with the object holding the announced bytes.
    @Test func killedMidUploadTheVideoIsUploadedAndAnnouncedOnce() async throws {
        try await MotoServer.with { server in
            try await withTemporaryDirectory { root in
                let simulator = EndToEndTests.simulator(generation: .milliseconds(100))
                try await simulator.withRunningServer { port in
                    try await Self.killMidUpload(server: server, simulator: simulator, root: root, port: port)
                }
            }
        }
    }

    static func killMidUpload(server: MotoServer, simulator: Simulator, root: String, port: Int) async throws {
        let silent = try SilentListener()
        defer { silent.close() }
        let hook = "http://127.0.0.1:\(port)/webhooks/killed"
        let webhooks = simulator.receiver.subscribe()
        let stuck = try Self.s3Keys(root: root, server: server, endpoint: "http://127.0.0.1:\(silent.port)")
        let config = try EndToEndTests.configure(root: root, port: port, extra: stuck)
        let first = try EndToEndTests.start(config: config, root: root, run: 1)
        try EndToEndTests.drop(EndToEndTests.request(tag: "killed", hook: hook), as: "killed.json", root: root)
        // The upload has connected to the storage, which never answers.
        _ = try await silent.connections.collect(1)
        first.signal(SIGKILL)
        _ = await first.waitForExit()
        #expect(first.log.contains("Video stored") && !first.log.contains("Video uploaded"), "\(first.log)")
        #expect(simulator.receiver.received.isEmpty, "nothing announced before the upload")

        _ = try EndToEndTests.configure(root: root, port: port, extra: try Self.s3Keys(root: root, server: server))
        let second = try EndToEndTests.start(config: config, root: root, run: 2)
        let received = try await webhooks.collect(1)
        second.signal(SIGTERM)
        #expect(await second.waitForExit() == 0, "log:\n\(second.log)")

        let video = try #require(received.first?.json?["data"]?["video"])
        let generation = try #require(received.first?.json?["data"]?["generation_id"]?.stringValue)
        let served = SimulatedVideo(generationID: generation).bytes
        let sha = Self.sha256(served)
        #expect(video["sha256"] == .string(sha))
        let object = try #require(video["object"]?.stringValue)
        let key = String(object.dropFirst("s3://\(server.bucket)/".count))
        try await withHTTPClient { client in
            let metadata = try await Self.storage(server, client: client).head(key: key)
            #expect(metadata?.checksumSHA256 == SHA256Checksum(hex: sha)?.base64)
            #expect(metadata?.bytes == Int64(served.count))
        }
        let announced = simulator.receiver.received.filter { $0.json?["data"]?["job_id"] == .string("killed") }
        #expect(announced.count == 1, "announced once")
        #expect(simulator.api.statistics.acceptedSubmissions == 1, "submitted once")
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/state/videos").isEmpty)
    }

    static func uploadFetchAndPrune(server: MotoServer, simulator: Simulator, root: String, port: Int) async throws {
        let config = try EndToEndTests.configure(root: root, port: port, extra: try Self.s3Keys(root: root, server: server))
        let hook = "http://127.0.0.1:\(port)/webhooks/s3"
        let daemon = try EndToEndTests.start(config: config, root: root, run: 1)
        try EndToEndTests.drop(EndToEndTests.request(tag: "kept", hook: hook), as: "kept.json", root: root)
        let received = try await simulator.receiver.subscribe().collect(1)
        // The local copy goes after the commit that announces the upload: wait for it, not only for
        // the webhook, before stopping (stopped in between, retention would remove it later).
        try await daemon.line { $0.contains("video.local_copy_removed") }
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0, "log:\n\(daemon.log)")

        let event = try #require(received.first)
        #expect(event.signatureValid == true)
        let video = try #require(event.json?["data"]?["video"])
        let generation = try #require(event.json?["data"]?["generation_id"]?.stringValue)
        let served = SimulatedVideo(generationID: generation).bytes
        let sha = Self.sha256(served)
        #expect(video["sha256"] == .string(sha), "the webhook's SHA-256 is the served bytes'")
        #expect(video["bytes"] == .int(Int64(served.count)))
        let object = try #require(video["object"]?.stringValue)
        let prefix = "s3://\(server.bucket)/"
        #expect(object.hasPrefix(prefix + "videos/20") && object.hasSuffix("/kept/kept.mp4"), "\(object)")
        let key = String(object.dropFirst(prefix.count))
        // results.keep_local: false: the local copy went once the upload was confirmed.
        #expect(video["file"] == nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/state/videos").isEmpty)
        let link = try #require(video["object_url"]?.stringValue)
        #expect(link.hasPrefix(server.endpoint + "/" + server.bucket + "/" + key + "?"), "\(link)")
        #expect(link.contains("X-Amz-Expires=3600"))
        #expect(video["object_url_expires_at"]?.stringValue != nil)
        #expect(daemon.log.contains("Video uploaded"))

        try await withHTTPClient { client in
            try await Self.checkObject(server: server, client: client, object: object, served: served, link: link, config: config, root: root)
        }

        // The S3 secret reaches no log, outcome file or webhook.
        let secret = server.credentials.secretAccessKey
        #expect(!daemon.log.contains(secret))
        #expect(!String(decoding: event.body, as: UTF8.self).contains(secret))
        #expect(!Self.contents(under: root + "/spool").contains { $0.contains(secret) })
    }

    /// The object as S3 holds it, the presigned link, `fetch`, `show` and a prune that deletes it.
    static func checkObject(
        server: MotoServer,
        client: HTTPClient,
        object: String,
        served: [UInt8],
        link: String,
        config: String,
        root: String
    ) async throws {
        let key = String(object.dropFirst("s3://\(server.bucket)/".count))
        let sha = Self.sha256(served)
        // The object holds the bytes with the SHA-256 the webhook states.
        let storage = try Self.storage(server, client: client)
        let metadata = try #require(try await storage.head(key: key))
        #expect(metadata.bytes == Int64(served.count))
        #expect(metadata.checksumSHA256 == SHA256Checksum(hex: sha)?.base64)
        #expect(metadata.contentType == "video/mp4")

        // The presigned link downloads the same bytes (moto cannot check a
        // presigned signature: its authentication is off for the GET).
        try await server.setAuthentication(false)
        let response = try await client.execute(HTTPClientRequest(url: link), deadline: .now() + .seconds(30), logger: Self.quietLogger)
        let body = try await response.body.collect(upTo: 16 << 20)
        #expect(response.status == .ok)
        #expect(Array(body.readableBytesView) == served)

        // Without a local copy, `fetch` downloads the object with a link presigned now.
        let copy = root + "/copy.mp4"
        let fetched = try await DaemonProcess.run(["fetch", "kept", "-o", copy, "--json", "--config", config], in: root)
        #expect(fetched.status == 0, "\(fetched.output)")
        let answer = try JSONParser().parse(fetched.output.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(answer["source"] == .string("object"))
        #expect(answer["sha256"] == .string(sha))
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: copy))) == served)
        try await server.setAuthentication(true)

        // `show` names the object.
        let shown = try await DaemonProcess.run(["show", "kept", "--config", config], in: root)
        #expect(shown.output.contains(object), "\(shown.output)")

        // Retention with results.s3.delete_on_prune deletes the object too.
        let pruned = try await DaemonProcess.run(["prune", "--older-than", "0s", "--config", config], in: root)
        #expect(pruned.status == 0, "\(pruned.output)")
        #expect(pruned.output.contains("pruned 1"), "\(pruned.output)")
        #expect(try await storage.head(key: key) == nil, "the object is gone with its job")
    }
}

/// `check-config` with `results.s3`: the credentials are looked up, the secret never printed.
struct ObjectStorageCheckConfigTests {
    @Test func checkConfigReadsTheS3CredentialsWithoutPrintingTheSecret() async throws {
        try await withTemporaryDirectory { root in
            try write("AKIDEXAMPLE\n", to: root + "/s3-access-key-id")
            try write("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\n", to: root + "/s3-secret")
            let s3 = """
                results:
                  s3:
                    endpoint: http://127.0.0.1:9
                    bucket: videospool-results
                    addressing_style: path
                    access_key_id_file: \(root)/s3-access-key-id
                    secret_access_key_file: \(root)/s3-secret
                """
            let config = try EndToEndTests.configure(root: root, port: 9, extra: s3)
            let good = try await DaemonProcess.run(["check-config", "--config", config], in: root)
            #expect(good.status == 0, "\(good.output)")
            #expect(good.output.contains("results.s3: s3://videospool-results/"), "\(good.output)")
            #expect(!good.output.contains("wJalrXUtnFEMI"))

            try FileManager.default.removeItem(atPath: root + "/s3-secret")
            let missing = try await DaemonProcess.run(["check-config", "--config", config], in: root)
            #expect(missing.status == 78, "\(missing.output)")
            #expect(missing.output.contains("results.s3.secret_access_key_file"), "\(missing.output)")
        }
    }
}

/// Runs `body` with a client that follows no redirects, shut down afterwards.
func withHTTPClient<Result: Sendable>(_ body: (HTTPClient) async throws -> Result) async throws -> Result {
    var configuration = HTTPClient.Configuration()
    configuration.redirectConfiguration = .disallow
    let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    do {
        let result = try await body(client)
        try await client.shutdown()
        return result
    } catch {
        try? await client.shutdown()
        throw error
    }
}

/// A TCP listener on loopback that accepts connections and never reads or answers: a storage
/// that hangs mid-request.
final class SilentListener: Sendable {
    let port: Int
    /// Each accepted connection.
    let connections: AsyncStream<Void>
    private let descriptor: Int32

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.EMFILE) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(descriptor, 8) == 0 else {
            Glibc.close(descriptor)
            throw POSIXError(.EADDRINUSE)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        self.port = Int(UInt16(bigEndian: address.sin_port))
        self.descriptor = descriptor
        let (connections, continuation) = AsyncStream.makeStream(of: Void.self)
        self.connections = connections
        // Accepted connections stay open (unread) until the process ends; accept fails once the
        // listener is closed, which ends the thread.
        Thread {
            while true {
                let connection = accept(descriptor, nil, nil)
                if connection < 0 {
                    if errno == EINTR { continue }
                    break
                }
                continuation.yield()
            }
            continuation.finish()
        }.start()
    }

    func close() {
        shutdown(descriptor, Int32(SHUT_RDWR))
        Glibc.close(descriptor)
    }
}
