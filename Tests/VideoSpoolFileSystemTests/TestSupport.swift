#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing
import VideoSpoolCore
import VideoSpoolFileSystem
import VideoSpoolTesting

/// Runs `body` with a fresh directory under the system's temporary directory, removed afterwards
/// (with whatever the test left in it: FIFOs, sockets, symlinks, directories).
func withTemporaryDirectory<Result>(_ body: (String) async throws -> Result) async throws -> Result {
    var template = Array((FileManager.default.temporaryDirectory.path + "/videospool-fs.XXXXXX").utf8CString)
    let made = template.withUnsafeMutableBufferPointer { buffer in mkdtemp(buffer.baseAddress!) != nil }
    guard made else { throw POSIXFailure("mkdtemp") }
    let path = template.withUnsafeBufferPointer { buffer in String(cString: buffer.baseAddress!) }
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

/// A prepared spool rooted at a fresh temporary directory; the root is also the place for files
/// that must live outside `incoming/` (symlink targets, hard-link sources).
func withSpool<Result>(_ body: (LocalSpoolDirectory) async throws -> Result) async throws -> Result {
    try await withTemporaryDirectory { root in
        let spool = LocalSpoolDirectory(root: root)
        try spool.prepare()
        return try await body(spool)
    }
}

/// A failed system call made by the test itself.
struct POSIXFailure: Error, CustomStringConvertible {
    let operation: String
    let code: Int32

    init(_ operation: String, code: Int32 = errno) {
        self.operation = operation
        self.code = code
    }

    var description: String { "\(operation): \(String(cString: strerror(code)))" }
}

/// Creates (or truncates) `path` and writes `bytes` to it.
func writeFile(_ bytes: [UInt8], to path: String) throws {
    let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else { throw POSIXFailure("open \(path)") }
    defer { close(descriptor) }
    var written = 0
    while written < bytes.count {
        let result = bytes.withUnsafeBytes { buffer in
            write(descriptor, buffer.baseAddress! + written, buffer.count - written)
        }
        guard result > 0 else { throw POSIXFailure("write \(path)") }
        written += result
    }
}

func writeFile(_ text: String, to path: String) throws {
    try writeFile(Array(text.utf8), to: path)
}

/// The whole content of a regular file (the test's own files, never the code under test's).
func contents(of path: String) throws -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else { throw POSIXFailure("read \(path)", code: ENOENT) }
    return Array(data)
}

/// The names in a directory (without `.` and `..`), sorted.
func entries(of directory: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
}

/// The `lstat` of a path: the entry itself, never what a symlink points to.
func linkStatus(_ path: String) throws -> stat {
    var info = stat()
    guard lstat(path, &info) == 0 else { throw POSIXFailure("lstat \(path)") }
    return info
}

func fileType(_ path: String) throws -> mode_t {
    try linkStatus(path).st_mode & S_IFMT
}

func exists(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0
}

/// Binds a Unix-domain socket at `path` and returns its descriptor (the caller closes it).
func bindUnixSocket(at path: String) throws -> Int32 {
    let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw POSIXFailure("socket") }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let pathBytes = Array(path.utf8)
    guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
        close(descriptor)
        throw POSIXFailure("socket path too long", code: ENAMETOOLONG)
    }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        raw.copyBytes(from: pathBytes)
        raw[pathBytes.count] = 0
    }
    let result = withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
            bind(descriptor, socketAddress, socklen_t(MemoryLayout<sockaddr_un>.size))
        }
    }
    guard result == 0 else {
        let failure = POSIXFailure("bind \(path)")
        close(descriptor)
        throw failure
    }
    return descriptor
}

// MARK: - Waiting without fixed sleeps

/// Iterates `stream` until a change satisfies `predicate`; returns every change seen, the match
/// last. Throws ``TimedOut`` after `timeout`, or ``StreamEnded`` if the stream finishes first.
@discardableResult
func changes(
    in stream: AsyncStream<SpoolChange>,
    until predicate: @escaping @Sendable (SpoolChange) -> Bool,
    timeout: Duration = .seconds(30),
    waitingFor description: String
) async throws -> [SpoolChange] {
    try await withTimeout(timeout, waitingFor: description) {
        var seen: [SpoolChange] = []
        for await change in stream {
            seen.append(change)
            if predicate(change) { return seen }
        }
        throw StreamEnded(seen: seen)
    }
}

/// Every change until the stream finishes.
func allChanges(in stream: AsyncStream<SpoolChange>, timeout: Duration = .seconds(30)) async throws -> [SpoolChange] {
    try await withTimeout(timeout, waitingFor: "the change stream to finish") {
        var seen: [SpoolChange] = []
        for await change in stream { seen.append(change) }
        return seen
    }
}

struct StreamEnded: Error, CustomStringConvertible {
    let seen: [SpoolChange]
    var description: String { "the change stream finished after \(seen) without the expected change" }
}

// MARK: - inotify bookkeeping from /proc

/// How many inotify descriptors of this process watch the directory with inode `inode`.
///
/// Each inotify descriptor's `/proc/self/fdinfo` lists its watches (`inotify wd:1 ino:<hex> ...`),
/// so this counts exactly the watchers of one test's directory, whatever other tests run alongside.
func inotifyWatchers(ofInode inode: UInt64) throws -> Int {
    var count = 0
    for name in try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fdinfo") {
        guard let text = try? String(contentsOfFile: "/proc/self/fdinfo/" + name, encoding: .utf8) else { continue }
        for line in text.split(separator: "\n") where line.hasPrefix("inotify ") {
            let fields = line.split(separator: " ")
            if let field = fields.first(where: { $0.hasPrefix("ino:") }),
                UInt64(field.dropFirst(4), radix: 16) == inode
            {
                count += 1
            }
        }
    }
    return count
}

func inode(of path: String) throws -> UInt64 {
    UInt64(try linkStatus(path).st_ino)
}

/// The pipes this process has open, as their `/proc/self/fd` link texts (`pipe:[<inode>]`).
func openPipes() throws -> Set<String> {
    var pipes: Set<String> = []
    for name in try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
        // A descriptor may close between listing and reading the link; it is then not open.
        if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + name),
            target.hasPrefix("pipe:")
        {
            pipes.insert(target)
        }
    }
    return pipes
}

extension SpoolRead {
    var file: SpoolFile? {
        if case .file(let file) = self { return file }
        return nil
    }

    var issue: ValidationIssue? {
        if case .unusable(let issue) = self { return issue }
        return nil
    }

    var isVanished: Bool {
        if case .vanished = self { return true }
        return false
    }
}
