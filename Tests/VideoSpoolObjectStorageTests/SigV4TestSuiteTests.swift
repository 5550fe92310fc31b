import Crypto
import Foundation
import Testing
import VideoSpoolCore
import VideoSpoolObjectStorage

/// AWS's Signature Version 4 test suite (the `aws-sig-v4-test-suite` vectors: raw request, canonical
/// request, string to sign, Authorization header), as botocore's source distribution ships it in
/// `tests/unit/auth/aws4_testsuite`. `make deps` unpacks it into `.cache/aws4_testsuite`.
///
/// The vectors are for a generic service (`service`), so they run with ``SigV4Signer/Flavor/generic``:
/// the path is normalized and encoded once more. Everything else (header canonicalization, query
/// sorting and encoding, the session token, the key derivation) is the code S3 requests use.
/// All of them run, including the four botocore skips (a space in the request line, repeated query keys).
struct SigV4TestSuiteTests {
    static let directory =
        ProcessInfo.processInfo.environment["VIDEOSPOOL_AWS4_TESTSUITE"] ?? packageRoot + "/.cache/aws4_testsuite"

    /// Every directory holding a `.req`, relative to the suite (`get-vanilla`, `normalize-path/get-slash`…).
    static func vectors() -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: directory)
        var found: [String] = []
        while let path = enumerator?.nextObject() as? String {
            if path.hasSuffix(".req") { found.append((path as NSString).deletingLastPathComponent) }
        }
        return found.sorted()
    }

    @Test func theSuiteIsInstalled() {
        #expect(
            Self.vectors().count >= 28,
            "the AWS SigV4 test suite is missing from \(Self.directory): run `make deps`"
        )
    }

    @Test(arguments: vectors())
    func vector(_ name: String) throws {
        let base = Self.directory + "/" + name + "/" + (name as NSString).lastPathComponent
        func read(_ suffix: String) throws -> String {
            try String(contentsOfFile: base + suffix, encoding: .utf8).replacingOccurrences(of: "\r", with: "")
        }
        let raw = try RawRequest(parsing: read(".req"))
        let expectedCanonical = try read(".creq")
        let expectedStringToSign = try read(".sts")
        let expectedAuthorization = try read(".authz")
        // As botocore's harness does: a token is in use when the canonical request signs one.
        let token = expectedCanonical.split(separator: "\n").first { $0.hasPrefix("x-amz-security-token:") }
            .map { String($0.dropFirst("x-amz-security-token:".count)) }
        let signer = SigV4Signer(
            credentials: SigV4Credentials(
                accessKeyID: "AKIDEXAMPLE",
                secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                sessionToken: token
            ),
            region: "us-east-1",
            service: "service",
            flavor: .generic
        )
        let payloadHash = SHA256Checksum(bytes: Array(SHA256.hash(data: raw.body)))!.hex
        var request = SigV4Signer.Request(method: raw.method, encodedPath: raw.path, query: raw.query, headers: raw.headers)
        var signedRequest = request
        if let token, !raw.headers.contains(where: { $0.name.lowercased() == "x-amz-security-token" }) {
            signedRequest.headers.append(("X-Amz-Security-Token", token))
        }
        let canonical = signer.canonicalRequest(signedRequest, payloadHash: payloadHash).text
        #expect(canonical == expectedCanonical)
        #expect(signer.stringToSign(canonicalRequest: canonical, at: testSuiteTime) == expectedStringToSign)
        request.headers = raw.headers
        let headers = signer.signedHeaders(for: request, payloadHash: payloadHash, at: testSuiteTime)
        #expect(headers.first { $0.name == "Authorization" }?.value == expectedAuthorization)
    }
}

/// A `.req` file: request line (the path may hold a raw space), headers (a line starting with white
/// space continues the previous one), a blank line, the body.
struct RawRequest {
    var method: String
    var path: String
    var query: [(name: String, value: String)]
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    init(parsing text: String) throws {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)[...]
        guard let requestLine = lines.popFirst() else { throw RawRequestError() }
        let firstSpace = try #require(requestLine.firstIndex(of: " "))
        method = String(requestLine[..<firstSpace])
        var target = requestLine[requestLine.index(after: firstSpace)...]
        if target.hasSuffix(" HTTP/1.1") { target = target.dropLast(" HTTP/1.1".count) }
        if let question = target.firstIndex(of: "?") {
            path = String(target[..<question])
            query = target[target.index(after: question)...].split(separator: "&").map { pair in
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                return (Self.percentDecode(parts[0]), parts.count > 1 ? Self.percentDecode(parts[1]) : "")
            }
        } else {
            path = String(target)
            query = []
        }
        headers = []
        while let line = lines.popFirst(), !line.isEmpty {
            if line.first == " " || line.first == "\t", !headers.isEmpty {
                headers[headers.count - 1].value += "\n" + line
                continue
            }
            let colon = try #require(line.firstIndex(of: ":"))
            headers.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
        }
        body = Array(lines.joined(separator: "\n").utf8)
    }

    struct RawRequestError: Error {}

    /// `%XX` to bytes; `+` stays `+`.
    static func percentDecode(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "%"), iterator.count >= 2,
                let value = UInt8(String(decoding: iterator.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                iterator = iterator.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
