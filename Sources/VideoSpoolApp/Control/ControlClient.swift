import Foundation
import Logging
import VideoSpoolCore
import VideoSpoolFileSystem
import VideoSpoolObjectStorage
import VideoSpoolRuntime
import VideoSpoolStore

#if canImport(Glibc)
import Glibc
#endif

/// The operator side of the control socket: hands a request to the running daemon, or, when no
/// daemon runs, carries it out on the store itself. Which of the two is decided by the daemon's
/// lock (``DaemonOwnership``), never by whether the socket answers: a daemon that owns the store but
/// does not answer (starting, stopping) is never written behind; and while the command writes the
/// store it holds the lock shared, so a daemon starting meanwhile waits for it.
public enum ControlClient {
    public static func socketPath(stateDirectory: String) -> String {
        stateDirectory + "/" + ControlService.fileName
    }

    /// How long a command waits for the socket of a daemon that owns the store (one starting up
    /// binds it a moment after taking its lock) before it says the daemon does not answer.
    static let socketWait = Duration.seconds(5)

    /// Sends `request` to the daemon or applies it to the store; `via` says which.
    ///
    /// - Throws: ``OwnershipError`` (`daemonNotAnswering`) when a daemon owns the store but its
    ///   socket does not answer; nothing is changed then.
    /// `onUpdate` hears how far a long operation has got (see ``ControlUpdate``), whoever does it;
    /// `onWaiting` hears once that the daemon's socket is not there yet and the command waits.
    public static func perform(
        _ request: ControlRequest,
        settings: DaemonSettings,
        environment: [String: String]? = nil,
        onWaiting: @Sendable (Int32?) -> Void = { _ in },
        onUpdate: @escaping @Sendable (ControlUpdate) -> Void = { _ in }
    ) async throws -> ControlResponse {
        let environment = environment ?? ProcessInfo.processInfo.environment
        let storePath = settings.stateDirectory + "/videospool.sqlite"
        guard settings.storeBackend == .postgresql || FileManager.default.fileExists(atPath: storePath) else {
            throw ControlClientError("no job store at \(storePath) (has the daemon run with this state.directory?)")
        }
        switch try DaemonOwnership.probe(DaemonOwnership.claims(for: settings)) {
        case .ownedByDaemon(let claim, let pid):
            // A daemon takes its lock before it binds its socket: one that has just started gets a
            // moment to do so. Nothing was sent while the socket is missing, so asking again is safe.
            let deadline = ContinuousClock.now + socketWait
            var waiting = false
            while true {
                if var response = try await send(request, to: socketPath(stateDirectory: settings.stateDirectory), onUpdate: onUpdate) {
                    response.via = "daemon"
                    return response
                }
                guard ContinuousClock.now < deadline else {
                    throw OwnershipError(claim: claim, reason: .daemonNotAnswering(pid: pid))
                }
                if !waiting {
                    waiting = true
                    onWaiting(pid)
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        case .free(let lease):
            defer { lease.release() }
            return try await performOnStore(request, settings: settings, environment: environment, onUpdate: onUpdate)
        }
    }

    /// Carries `request` out on the store of a stopped daemon (the caller holds its lock), or, on a
    /// shared store, as a short-lived instance of its own.
    private static func performOnStore(
        _ request: ControlRequest,
        settings: DaemonSettings,
        environment: [String: String],
        onUpdate: @escaping @Sendable (ControlUpdate) -> Void
    ) async throws -> ControlResponse {
        let spool = LocalSpoolDirectory(root: settings.spoolDirectory)
        let logger = {
            var logger = Logger(label: "videospool")
            logger.logLevel = .critical
            return logger
        }()
        var response = try await ObjectStorageConnection.with(settings: settings, environment: environment, logger: logger) {
            objectStorage in
            try await OperatorStore.withStore(settings: settings, environment: environment) { store in
                let control = JobControl(
                    store: store,
                    spool: spool,
                    time: SystemTimeSource(),
                    logger: logger,
                    videos: LocalResultsDirectory(path: settings.resultsDirectory),
                    objects: objectStorage?.videoObjects
                )
                return await request.perform(with: control) { onUpdate($0) }
            }
        }
        response.via = "store"
        return response
    }

    /// `nil` when no daemon listens (no socket, or a stale one). Update lines before the response
    /// go to `onUpdate` as they arrive.
    ///
    /// The exchange is one request line and a few answer lines on a local socket, with blocking
    /// calls and a receive timeout: it runs on a thread of its own, never on the cooperative pool,
    /// so a daemon slow to answer (a cancel waiting for a request on the wire) holds up no task.
    package static func send(
        _ request: ControlRequest,
        to path: String,
        onUpdate: @escaping @Sendable (ControlUpdate) -> Void = { _ in }
    ) async throws -> ControlResponse? {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result { try exchange(request, at: path, onUpdate: onUpdate) })
            }.start()
        }
    }

    private static func exchange(
        _ request: ControlRequest,
        at path: String,
        onUpdate: (ControlUpdate) -> Void
    ) throws -> ControlResponse? {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw ControlClientError("socket: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.utf8.count < capacity else { throw ControlClientError("socket path too long: \(path)") }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: path.utf8)
            buffer[path.utf8.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if connected != 0 {
            if errno == ECONNREFUSED || errno == ENOENT { return nil }
            throw ControlClientError("cannot connect to \(path): \(String(cString: strerror(errno)))")
        }
        // A cancel may wait for a request on the wire to the API; never hang for ever. This bounds
        // the silence between lines: a daemon at work sends an update every few seconds.
        var timeout = timeval(tv_sec: 120, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var bytes = Array(try JSONEncoder().encode(request))
        bytes.append(UInt8(ascii: "\n"))
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            guard n > 0 else { throw ControlClientError("write to \(path): \(String(cString: strerror(errno)))") }
            sent += n
        }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        let decoder = JSONDecoder()
        while true {
            let n = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if n == 0 { break }
            guard n > 0 else { throw ControlClientError("no answer from the daemon: \(String(cString: strerror(errno)))") }
            received += chunk[..<n]
            // Hand on every complete update line; the response is what remains at the end.
            var start = received.startIndex
            while let newline = received[start...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = Data(received[start..<newline])
                guard let update = try? decoder.decode(ControlUpdate.Line.self, from: line) else { break }
                onUpdate(update.update)
                start = newline + 1
            }
            received.removeSubrange(..<start)
        }
        do {
            return try decoder.decode(ControlResponse.self, from: Data(received))
        } catch {
            throw ControlClientError("the daemon's answer is not understood")
        }
    }
}

struct ControlClientError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
