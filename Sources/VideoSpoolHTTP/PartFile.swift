#if canImport(Glibc)
import Glibc
#endif
import Crypto
import NIOCore
import NIOPosix
import VideoSpoolCore

/// The part file a video is written to while it downloads, `<directory>/.<job_id>.part`, with the
/// SHA-256 and length of everything in it.
///
/// Every blocking call (write, read, fsync, rename) runs on NIO's thread pool, so a slow disk
/// never holds up a cooperative thread. Opening an existing part re-hashes its bytes (streaming, a
/// block at a time), so the digest of a resumed download covers the whole file.
///
/// `@unchecked Sendable`: one download task uses it at a time, one thread-pool call after another
/// (each awaited before the next), so its mutable state is never touched concurrently.
final class PartFile: @unchecked Sendable {
    let partPath: String
    private let directory: String
    private var descriptor: Int32
    private var hasher = SHA256()
    /// Bytes in the file (and hashed).
    private(set) var bytes: Int64 = 0

    private static let readBlockBytes = 256 * 1024

    private init(directory: String, partPath: String, descriptor: Int32) {
        self.directory = directory
        self.partPath = partPath
        self.descriptor = descriptor
    }

    /// The part file's path for `jobID` in `directory`.
    static func path(directory: String, jobID: JobID) -> String {
        "\(directory)/.\(jobID.rawValue).part"
    }

    /// Opens (or creates) the part file and hashes what an earlier attempt left in it.
    static func open(directory: String, jobID: JobID) async throws(VideoDownloadError) -> PartFile {
        let path = path(directory: directory, jobID: jobID)
        let file = try await blocking("open the part file") {
            let descriptor = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o640)
            guard descriptor >= 0 else { throw Errno(errno) }
            // One writer per part: a second download of the same job must not interleave its bytes.
            guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
                let code = errno
                Glibc.close(descriptor)
                throw code == EWOULDBLOCK ? Busy() : Errno(code)
            }
            return PartFile(directory: directory, partPath: path, descriptor: descriptor)
        }
        do {
            try await file.hashExistingBytes()
        } catch {
            file.closeQuietly()
            throw error
        }
        return file
    }

    private func hashExistingBytes() async throws(VideoDownloadError) {
        try await Self.blocking("read the part file") { [self] in
            var block = [UInt8](repeating: 0, count: Self.readBlockBytes)
            var offset: Int64 = 0
            while true {
                let count = block.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, off_t(offset)) }
                if count < 0 {
                    if errno == EINTR { continue }
                    throw Errno(errno)
                }
                if count == 0 { break }
                block.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0.prefix(count))) }
                offset += Int64(count)
            }
            bytes = offset
        }
    }

    /// Appends `buffers` and hashes them.
    func append(_ buffers: [ByteBuffer]) async throws(VideoDownloadError) {
        guard !buffers.isEmpty else { return }
        try await Self.blocking("write the part file") { [self] in
            for buffer in buffers {
                try buffer.withUnsafeReadableBytes { raw in
                    var written = 0
                    while written < raw.count {
                        let count = pwrite(descriptor, raw.baseAddress! + written, raw.count - written, off_t(bytes) + off_t(written))
                        if count < 0 {
                            if errno == EINTR { continue }
                            throw Errno(errno)
                        }
                        written += count
                    }
                    hasher.update(bufferPointer: raw)
                }
                bytes += Int64(buffer.readableBytes)
            }
        }
    }

    /// Empties the file: the server sent the whole video again, so the download restarts from zero.
    func truncate() async throws(VideoDownloadError) {
        try await Self.blocking("truncate the part file") { [self] in
            guard ftruncate(descriptor, 0) == 0 else { throw Errno(errno) }
            hasher = SHA256()
            bytes = 0
        }
    }

    /// Makes the file durable as `finalPath`: fsync, rename, fsync of the directory.
    /// - Returns: The SHA-256 of the whole file, lowercase hex.
    func commit(to finalPath: String) async throws(VideoDownloadError) -> String {
        let digest = try await Self.blocking("store the video") { [self] () throws -> String in
            guard fsync(descriptor) == 0 else { throw Errno(errno) }
            // Renamed while still locked, so no other download can open the part in between.
            guard rename(partPath, finalPath) == 0 else { throw Errno(errno) }
            Glibc.close(descriptor)
            descriptor = -1
            try Self.syncDirectory(directory)
            return hasher.finalize().map { byte in
                let hex = Array("0123456789abcdef".utf8)
                return String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]], as: UTF8.self)
            }.joined()
        }
        return digest
    }

    /// Keeps what arrived for the next attempt: fsync (so a power loss cannot leave a part whose
    /// length runs ahead of its data), then close. Runs even if the caller was canceled.
    func keep() async {
        await Self.finishing("sync the part file") { [self] in
            guard descriptor >= 0 else { return }
            fsync(descriptor)
            Glibc.close(descriptor)
            descriptor = -1
        }
    }

    /// Deletes the part: it cannot be used (the video is gone or too large). Runs even if the
    /// caller was canceled.
    func discard() async {
        await Self.finishing("remove the part file") { [self] in
            if descriptor >= 0 {
                Glibc.close(descriptor)
                descriptor = -1
            }
            unlink(partPath)
        }
    }

    /// Runs must-finish cleanup on the thread pool in a task of its own: the pool skips work whose
    /// task was canceled, and a canceled download must still sync or remove its part.
    private static func finishing(_ action: String, _ work: @escaping @Sendable () throws -> Void) async {
        _ = try? await Task { try await blocking(action, work) }.value
    }

    private func closeQuietly() {
        if descriptor >= 0 { Glibc.close(descriptor) }
        descriptor = -1
    }

    deinit {
        if descriptor >= 0 { Glibc.close(descriptor) }
    }

    static func syncDirectory(_ directory: String) throws(Errno) {
        let descriptor = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Errno(errno) }
        defer { Glibc.close(descriptor) }
        guard fsync(descriptor) == 0 else { throw Errno(errno) }
    }

    /// Another download holds the part file's lock.
    struct Busy: Error {}

    /// An errno from a failed call.
    struct Errno: Error {
        let code: Int32
        init(_ code: Int32) { self.code = code }
    }

    /// Runs `work` on the thread pool; a failure becomes a download error naming `action`.
    private static func blocking<Result: Sendable>(
        _ action: String,
        _ work: @escaping @Sendable () throws -> Result
    ) async throws(VideoDownloadError) -> Result {
        do {
            return try await NIOThreadPool.singleton.runIfActive {
                try work()
            }
        } catch let error as Errno {
            throw storageError(action, code: error.code)
        } catch is Busy {
            throw VideoDownloadError.transient(.storageFailed, "another download of this job is writing its part file")
        } catch {
            throw VideoDownloadError.transient(.storageFailed, "cannot \(action): \(error)")
        }
    }

    static func storageError(_ action: String, code: Int32) -> VideoDownloadError {
        let reason = String(cString: strerror(code))
        if code == ENOSPC || code == EDQUOT {
            return .transient(.diskFull, "cannot \(action): \(reason) (the results directory is full)")
        }
        return .permanent(.storageFailed, "cannot \(action): \(reason)")
    }
}
