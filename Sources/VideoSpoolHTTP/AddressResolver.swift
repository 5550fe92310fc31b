#if canImport(Glibc)
import Glibc
#endif
import NIOPosix
public import VideoSpoolCore

/// Turns a host name into addresses (a seam for tests).
public protocol HostResolver: Sendable {
    func addresses(of host: String, port: Int) async throws -> [IPAddress]
}

/// Resolves host names with the system resolver (`getaddrinfo`), off the cooperative threads.
public struct AddressResolver: HostResolver {
    public init() {}

    public struct ResolutionError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Every address the host resolves to, in the resolver's order, without duplicates.
    public func addresses(of host: String, port: Int) async throws -> [IPAddress] {
        try await NIOThreadPool.singleton.runIfActive {
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            hints.ai_family = AF_UNSPEC
            var results: UnsafeMutablePointer<addrinfo>?
            let status = getaddrinfo(host, String(port), &hints, &results)
            guard status == 0 else {
                throw ResolutionError(description: "cannot resolve \(host): \(String(cString: gai_strerror(status)))")
            }
            defer { freeaddrinfo(results) }
            var addresses: [IPAddress] = []
            var cursor = results
            while let entry = cursor {
                if let address = Self.address(entry.pointee.ai_addr), !addresses.contains(address) {
                    addresses.append(address)
                }
                cursor = entry.pointee.ai_next
            }
            return addresses
        }
    }

    private static func address(_ pointer: UnsafeMutablePointer<sockaddr>?) -> IPAddress? {
        guard let pointer else { return nil }
        switch Int32(pointer.pointee.sa_family) {
        case AF_INET:
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { value in
                .v4(UInt32(bigEndian: value.pointee.sin_addr.s_addr))
            }
        case AF_INET6:
            return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { value in
                var bytes = value.pointee.sin6_addr.__in6_u.__u6_addr8
                return withUnsafeBytes(of: &bytes) { raw in
                    let high = raw.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                    let low = raw.suffix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                    return .v6(high, low)
                }
            }
        default:
            return nil
        }
    }
}
