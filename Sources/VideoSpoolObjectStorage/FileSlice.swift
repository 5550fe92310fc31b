import Crypto
package import NIOCore
package import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A local file opened for reading. Reads use `pread` on NIO's blocking-I/O thread pool, so they
/// never block a Swift concurrency thread and never move a shared file offset.
package final class ReadOnlyFile: Sendable {
    package let path: String
    package let size: Int64
    private let descriptor: Int32
    private let threadPool: NIOThreadPool

    private init(path: String, descriptor: Int32, size: Int64, threadPool: NIOThreadPool) {
        self.path = path
        self.descriptor = descriptor
        self.size = size
        self.threadPool = threadPool
    }

    /// Opens `path` and runs `body` with it, closing it on every path out.
    package static func withFile<Result: Sendable>(
        _ path: String,
        threadPool: NIOThreadPool = .singleton,
        _ body: (ReadOnlyFile) async throws(ObjectStorageError) -> Result
    ) async throws(ObjectStorageError) -> Result {
        let opened: (descriptor: Int32, size: Int64)
        do {
            opened = try await threadPool.runIfActive { () throws -> (Int32, Int64) in
                let descriptor = open(path, O_RDONLY | O_CLOEXEC)
                guard descriptor >= 0 else { throw failure("cannot open", path: path) }
                var status = stat()
                guard fstat(descriptor, &status) == 0 else {
                    let error = failure("cannot stat", path: path)
                    close(descriptor)
                    throw error
                }
                guard (status.st_mode & S_IFMT) == S_IFREG else {
                    close(descriptor)
                    throw ObjectStorageError(code: .localFile, "\(path) is not a regular file")
                }
                return (descriptor, Int64(status.st_size))
            }
        } catch let error as ObjectStorageError {
            throw error
        } catch {
            throw ObjectStorageError(code: .localFile, "cannot open \(path): \(error)")
        }
        let file = ReadOnlyFile(path: path, descriptor: opened.descriptor, size: opened.size, threadPool: threadPool)
        defer { close(file.descriptor) }
        return try await body(file)
    }

    /// Reads exactly `count` bytes at `offset`; a file that has become shorter is an error.
    func read(offset: Int64, count: Int) async throws(ObjectStorageError) -> ByteBuffer {
        let (descriptor, path) = (self.descriptor, self.path)
        do {
            return try await threadPool.runIfActive { () throws -> ByteBuffer in
                var buffer = ByteBufferAllocator().buffer(capacity: count)
                var done = 0
                while done < count {
                    var got = 0
                    buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count - done) { pointer in
                        got = pread(descriptor, pointer.baseAddress, count - done, off_t(offset) + off_t(done))
                        return max(got, 0)
                    }
                    if got < 0 {
                        if errno == EINTR { continue }
                        throw failure("cannot read", path: path)
                    }
                    if got == 0 {
                        throw ObjectStorageError(
                            code: .checksumMismatch,
                            "\(path) ended at \(offset + Int64(done)) bytes while \(offset + Int64(count)) were expected: it changed"
                        )
                    }
                    done += got
                }
                return buffer
            }
        } catch let error as ObjectStorageError {
            throw error
        } catch {
            throw ObjectStorageError(code: .localFile, "cannot read \(path): \(error)")
        }
    }

    /// SHA-256 of `length` bytes at `offset`, read in chunks; `whole`, when given, is fed the
    /// same bytes.
    func sha256(offset: Int64, length: Int64, chunkBytes: Int, whole: inout SHA256?) async throws(ObjectStorageError) -> SHA256Checksum {
        var hash = SHA256()
        var position = offset
        while position < offset + length {
            let count = Int(min(Int64(chunkBytes), offset + length - position))
            let chunk = try await read(offset: position, count: count)
            chunk.withUnsafeReadableBytes { bytes in
                hash.update(bufferPointer: bytes)
                whole?.update(bufferPointer: bytes)
            }
            position += Int64(count)
        }
        return SHA256Checksum(bytes: Array(hash.finalize()))!
    }
}

private func failure(_ what: String, path: String) -> ObjectStorageError {
    let code = errno
    return ObjectStorageError(code: .localFile, "\(what) \(path): \(String(cString: strerror(code))) (errno \(code))")
}

/// A region of a file as request body chunks: one chunk in memory at a time (AsyncHTTPClient asks
/// for the next when the connection can take it).
///
/// With `expected`, the bytes are hashed as they go, and a mismatch fails the stream before its last
/// chunk is sent, so the server never receives a complete body with other content than the one
/// the caller verified, whether or not it checks `x-amz-checksum-sha256` itself.
package struct FileSlice: AsyncSequence, Sendable {
    package typealias Element = ByteBuffer

    let file: ReadOnlyFile
    let offset: Int64
    let length: Int64
    let chunkBytes: Int
    var expected: SHA256Checksum? = nil

    package init(file: ReadOnlyFile, offset: Int64, length: Int64, chunkBytes: Int, expected: SHA256Checksum? = nil) {
        self.file = file
        self.offset = offset
        self.length = length
        self.chunkBytes = chunkBytes
        self.expected = expected
    }

    package struct AsyncIterator: AsyncIteratorProtocol {
        let slice: FileSlice
        var position: Int64
        var hash: SHA256?

        package mutating func next() async throws -> ByteBuffer? {
            let end = slice.offset + slice.length
            guard position < end else { return nil }
            let count = Int(Swift.min(Int64(slice.chunkBytes), end - position))
            let chunk = try await slice.file.read(offset: position, count: count)
            position += Int64(count)
            if var hash, let expected = slice.expected {
                chunk.withUnsafeReadableBytes { hash.update(bufferPointer: $0) }
                self.hash = hash
                if position == end, SHA256Checksum(bytes: Array(hash.finalize())) != expected {
                    throw ObjectStorageError(
                        code: .checksumMismatch,
                        "\(slice.file.path) no longer has the SHA-256 \(expected.hex) it had when it was downloaded"
                    )
                }
            }
            return chunk
        }
    }

    package func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(slice: self, position: offset, hash: expected == nil ? nil : SHA256())
    }
}
