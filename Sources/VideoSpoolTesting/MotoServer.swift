import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
public import VideoSpoolObjectStorage

/// moto's S3 server (`python3 -m moto.server`, from `make deps`) on a free loopback port, with an
/// IAM user whose signature it checks on every request once ``setAuthentication(_:)`` turns that on.
// Unchecked: every stored property is a constant, and the process is only signalled and waited
// for (by ``stop()``), so tests may hand the server to the `@Sendable` closures they run.
public final class MotoServer: @unchecked Sendable {
    /// Whether moto can be imported. Without it the moto tests are skipped, loudly, outside CI;
    /// in CI (`CI` set) they run and fail, so a missing install cannot pass unnoticed.
    public static let canRun: Bool = isInstalled || ProcessInfo.processInfo.environment["CI"] != nil

    public static let isInstalled: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import moto.server, boto3"]
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONPATH"] = Python.path
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()

    public static let skipMessage =
        "moto is not installed in \(Python.path): run `make deps`. SKIPPING the tests against a signature-checking S3 server."

    public let endpoint: String
    public let port: Int
    public let bucket: String
    /// The IAM user's access key, created by `Tests/python/moto_setup.py`.
    public let credentials: SigV4Credentials
    private let process: Process
    /// Kept until the server stops, so that the reading end stays open while the reader thread reads.
    private let pipe: Pipe
    /// moto exits when this closes (see `start`).
    private let stdin: Pipe
    private let output: OutputBuffer

    private init(
        process: Process,
        pipe: Pipe,
        stdin: Pipe,
        output: OutputBuffer,
        port: Int,
        bucket: String,
        credentials: SigV4Credentials
    ) {
        self.process = process
        self.pipe = pipe
        self.stdin = stdin
        self.output = output
        self.port = port
        self.endpoint = "http://127.0.0.1:\(port)"
        self.bucket = bucket
        self.credentials = credentials
    }

    /// Runs `body` with a started, prepared server (authentication on), and stops it afterwards.
    public static func with<Result: Sendable>(bucket: String = "videospool-results", _ body: (MotoServer) async throws -> Result)
        async throws -> Result
    {
        let server = try await start(bucket: bucket)
        do {
            let result = try await body(server)
            server.stop()
            return result
        } catch {
            server.stop()
            throw error
        }
    }

    private static func start(bucket: String) async throws -> MotoServer {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // moto.server's main, plus a watchdog: when the test process ends, even by a crash, its end
        // of stdin closes and moto exits instead of staying behind. Port 0: the kernel picks a
        // free port, and werkzeug prints it.
        let script = """
            import os, sys, threading
            threading.Thread(target=lambda: (sys.stdin.buffer.read(), os._exit(0)), daemon=True).start()
            from moto.server import main
            main(sys.argv[1:])
            """
        process.arguments = ["python3", "-c", script, "-H", "127.0.0.1", "-p", "0"]
        let stdin = Pipe()
        process.standardInput = stdin
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONPATH"] = Python.path
        environment["PYTHONUNBUFFERED"] = "1"
        // Signatures are not checked until the setup below is done, then turned on.
        environment.removeValue(forKey: "INITIAL_NO_AUTH_ACTION_COUNT")
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let output = OutputBuffer()
        let (changes, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        try process.run()
        // Read everything moto prints, always (a full pipe would block it), on a thread of its own
        // with plain blocking reads that retry on EINTR: FileHandle's readabilityHandler would put
        // a dispatch source on the descriptor, and `availableData` traps on EINTR. The thread
        // ends at end of file, when moto is killed.
        let descriptor = pipe.fileHandleForReading.fileDescriptor
        Thread {
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR { continue }
                if count <= 0 { break }
                output.append(String(decoding: buffer[0..<count], as: UTF8.self))
                continuation.yield()
            }
            continuation.finish()
        }.start()
        let port: Int
        do {
            port = try await waitForPort(changes: changes, output: output)
        } catch {
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
            throw error
        }
        let endpoint = "http://127.0.0.1:\(port)"
        let partial = MotoServer(
            process: process,
            pipe: pipe,
            stdin: stdin,
            output: output,
            port: port,
            bucket: bucket,
            credentials: SigV4Credentials(accessKeyID: "-", secretAccessKey: "-")
        )
        do {
            let json = try Python.run(Python.packageRoot + "/Tests/python/moto_setup.py", arguments: [endpoint, bucket])
            let keys = try JSONSerialization.jsonObject(with: Data(json)) as? [String: String]
            guard let id = keys?["access_key_id"], let secret = keys?["secret_access_key"] else {
                throw PythonFailure(message: "moto_setup.py printed no access key")
            }
            let server = MotoServer(
                process: process,
                pipe: pipe,
                stdin: stdin,
                output: output,
                port: port,
                bucket: bucket,
                credentials: SigV4Credentials(accessKeyID: id, secretAccessKey: secret)
            )
            try await server.setAuthentication(true)
            return server
        } catch {
            partial.stop()
            throw error
        }
    }

    /// Waits (at most a minute, for a loaded machine) for werkzeug's "Running on http://127.0.0.1:PORT".
    private static func waitForPort(changes: AsyncStream<Void>, output: OutputBuffer) async throws -> Int {
        try await withThrowingTaskGroup(of: Int?.self) { group in
            group.addTask {
                for await _ in changes {
                    if let port = Self.port(in: output.text) { return port }
                }
                return nil
            }
            group.addTask {
                try await Task.sleep(for: .seconds(60))
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            guard let first else {
                throw PythonFailure(message: "moto_server did not start; it printed:\n" + output.text)
            }
            return first
        }
    }

    private static func port(in text: String) -> Int? {
        guard let range = text.firstRange(of: "Running on http://127.0.0.1:") else { return nil }
        let digits = text[range.upperBound...].prefix { $0.isNumber }
        guard text[range.upperBound...].dropFirst(digits.count).first?.isWhitespace == true else { return nil }
        return Int(digits)
    }

    /// Turns signature checking on (every request is authenticated) or off (moto's default; it
    /// cannot check presigned URLs: with authentication on it fails them with a 500, since it
    /// looks for an Authorization header).
    public func setAuthentication(_ on: Bool) async throws {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            var request = HTTPClientRequest(url: endpoint + "/moto-api/reset-auth")
            request.method = .POST
            // Flask reads a form-encoded body as a form, leaving the raw data empty.
            request.headers.add(name: "Content-Type", value: "text/plain")
            request.body = .bytes(ByteBuffer(string: on ? "0" : "1000000000"))
            let response = try await client.execute(
                request,
                deadline: .now() + .seconds(30),
                logger: Logger(label: "moto", factory: { _ in SwiftLogNoOpLogHandler() })
            )
            _ = try await response.body.collect(upTo: 1 << 16)
            guard response.status == .ok else {
                throw PythonFailure(message: "moto-api/reset-auth answered \(response.status)")
            }
            try await client.shutdown()
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// The keys of multipart uploads still open in the bucket (`Tests/python/moto_uploads.py`).
    public func openUploads() throws -> [String] {
        let output = try Python.run(
            Python.packageRoot + "/Tests/python/moto_uploads.py",
            arguments: [endpoint, bucket, credentials.accessKeyID, credentials.secretAccessKey]
        )
        return (try JSONSerialization.jsonObject(with: Data(output)) as? [String]) ?? ["<unreadable>"]
    }

    /// What moto printed so far (its request log), for failure messages.
    public var log: String { output.text }

    /// SIGKILL: the child inherits the test process's blocked signal mask, SIGTERM included, so
    /// `terminate()` would not end it. moto keeps nothing worth a clean exit.
    public func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// Everything a child process printed, appended from its reading thread.
final class OutputBuffer: Sendable {
    private let storage = Mutex("")

    func append(_ text: String) { storage.withLock { $0 += text } }
    var text: String { storage.withLock { $0 } }
}
