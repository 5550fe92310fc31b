import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A datagram socket in systemd's place (`NOTIFY_SOCKET`), to time the daemon's READY=1.
final class ReadySocket: Sendable {
    let path: String
    private let descriptor: Int32

    init(path: String) throws {
        self.path = path
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { throw BenchError("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8) + [0]) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else { throw BenchError("bind \(path): \(String(cString: strerror(errno)))") }
        self.descriptor = descriptor
    }

    /// Whether a datagram saying READY=1 came within `deadline` (blocking one thread meanwhile).
    func waitForReady(within deadline: Duration) async throws -> Bool {
        let descriptor = self.descriptor
        let end = ContinuousClock.now + deadline
        return await Task.detached {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while ContinuousClock.now < end {
                var timeout = timeval(tv_sec: 1, tv_usec: 0)
                setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                let count = recv(descriptor, &buffer, buffer.count, 0)
                guard count > 0 else { continue }
                if String(decoding: buffer[0..<count], as: UTF8.self).split(separator: "\n").contains("READY=1") {
                    return true
                }
            }
            return false
        }.value
    }

    func close() {
        Glibc.close(descriptor)
        unlink(path)
    }
}
