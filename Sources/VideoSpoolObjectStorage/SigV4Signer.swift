import Crypto
public import VideoSpoolCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// AWS Signature Version 4 (`AWS4-HMAC-SHA256`), written here because no Swift AWS SDK is available.
///
/// Pure computation: the time is an argument, nothing is read from the environment. Two ways to sign:
/// - ``signedHeaders(for:payloadHash:at:)`` adds `x-amz-date`, `x-amz-content-sha256` (S3),
///   `x-amz-security-token` (with temporary credentials) and `Authorization`;
/// - ``presignedQuery(for:expiresSeconds:at:)`` returns the query string of a presigned URL
///   (`X-Amz-Expires` at most 604800 s, 7 days, which is what SigV4 allows).
///
/// The request's path is given exactly as it goes on the wire (already percent-encoded). S3 signs
/// that path as it is; other AWS services (``Flavor/generic``, used only to run the AWS test
/// suite's vectors) normalize it and encode it once more, as the specification says.
public struct SigV4Signer: Sendable {
    /// S3 signs the path as sent and requires `x-amz-content-sha256`; other services normalize and
    /// re-encode the path and do not use that header.
    public enum Flavor: Sendable {
        case s3
        case generic
    }

    /// A request to sign. Query values and header values are plain text; the signer encodes them.
    public struct Request: Sendable {
        public var method: String
        /// The path as sent, percent-encoded (``SigV4Signer/encodePath(_:)``), starting with `/`.
        public var encodedPath: String
        /// Query parameters, unencoded, in the order they go into the URL.
        public var query: [(name: String, value: String)]
        /// Every header to sign, `host` included. Names are matched without regard to case.
        public var headers: [(name: String, value: String)]

        public init(
            method: String,
            encodedPath: String,
            query: [(name: String, value: String)] = [],
            headers: [(name: String, value: String)]
        ) {
            self.method = method
            self.encodedPath = encodedPath
            self.query = query
            self.headers = headers
        }
    }

    public static let algorithm = "AWS4-HMAC-SHA256"
    /// The payload hash of a request whose body is not hashed (presigned URLs, or by choice).
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// SHA-256 of the empty body.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    /// The longest validity SigV4 allows a presigned URL: 7 days.
    public static let maximumPresignSeconds = 604_800

    public var credentials: SigV4Credentials
    public var region: String
    public var service: String
    public var flavor: Flavor

    public init(credentials: SigV4Credentials, region: String, service: String = "s3", flavor: Flavor = .s3) {
        self.credentials = credentials
        self.region = region
        self.service = service
        self.flavor = flavor
    }

    // MARK: - Header signing

    /// The headers to add to `request` so that it is signed: `x-amz-date`, `x-amz-content-sha256`
    /// (S3 only), `x-amz-security-token` (temporary credentials only) and `Authorization`.
    ///
    /// - Parameters:
    ///   - payloadHash: lowercase hex SHA-256 of the body, or ``unsignedPayload``.
    ///   - time: the signing time; the server refuses a request more than 15 minutes away from its clock.
    public func signedHeaders(
        for request: Request,
        payloadHash: String,
        at time: Timestamp
    ) -> [(name: String, value: String)] {
        let stamp = AmzDate(time)
        var added: [(name: String, value: String)] = [("x-amz-date", stamp.dateTime)]
        if flavor == .s3 { added.append(("x-amz-content-sha256", payloadHash)) }
        if let token = credentials.sessionToken { added.append(("x-amz-security-token", token)) }
        var signed = request
        // Signing headers the caller already set would sign them twice: ours win.
        let ours = Set(added.map { $0.name })
        signed.headers = request.headers.filter { !ours.contains($0.name.lowercased()) } + added
        let canonical = canonicalRequest(signed, payloadHash: payloadHash)
        let signature = self.signature(stringToSign: stringToSign(canonicalRequest: canonical.text, stamp: stamp), stamp: stamp)
        let authorization =
            "\(Self.algorithm) Credential=\(credentials.accessKeyID)/\(scope(stamp)), "
            + "SignedHeaders=\(canonical.signedHeaders), Signature=\(signature)"
        return added + [("Authorization", authorization)]
    }

    // MARK: - Presigning

    /// The query string (without `?`) of a presigned URL for `request`: the request's own
    /// parameters, then `X-Amz-Algorithm`, `-Credential`, `-Date`, `-Expires`, `-SignedHeaders`,
    /// `-Security-Token` (temporary credentials only) and `-Signature`, the order AWS's SDKs use.
    ///
    /// - Throws: ``ObjectStorageError`` (`invalidArgument`) when `expiresSeconds` is not between 1
    ///   and ``maximumPresignSeconds``.
    public func presignedQuery(
        for request: Request,
        expiresSeconds: Int,
        at time: Timestamp
    ) throws(ObjectStorageError) -> String {
        guard (1...Self.maximumPresignSeconds).contains(expiresSeconds) else {
            throw ObjectStorageError(
                code: .invalidArgument,
                "a presigned URL is valid for 1 to \(Self.maximumPresignSeconds) seconds (7 days, the SigV4 limit); "
                    + "asked for \(expiresSeconds)"
            )
        }
        let stamp = AmzDate(time)
        let signedHeaderNames = Self.canonicalHeaders(request.headers).signedHeaders
        var authParameters: [(name: String, value: String)] = [
            ("X-Amz-Algorithm", Self.algorithm),
            ("X-Amz-Credential", "\(credentials.accessKeyID)/\(scope(stamp))"),
            ("X-Amz-Date", stamp.dateTime),
            ("X-Amz-Expires", String(expiresSeconds)),
            ("X-Amz-SignedHeaders", signedHeaderNames),
        ]
        if let token = credentials.sessionToken { authParameters.append(("X-Amz-Security-Token", token)) }
        var signed = request
        signed.query = request.query + authParameters
        let canonical = canonicalRequest(signed, payloadHash: Self.unsignedPayload)
        let signature = self.signature(stringToSign: stringToSign(canonicalRequest: canonical.text, stamp: stamp), stamp: stamp)
        let parameters = signed.query.map { Self.encode($0.name) + "=" + Self.encode($0.value) }
        return (parameters + ["X-Amz-Signature=" + signature]).joined(separator: "&")
    }

    // MARK: - The steps, visible to tests

    /// The canonical request and the `SignedHeaders` list.
    package func canonicalRequest(_ request: Request, payloadHash: String) -> (text: String, signedHeaders: String) {
        let headers = Self.canonicalHeaders(request.headers)
        let text = [
            request.method.uppercased(),
            canonicalURI(request.encodedPath),
            Self.canonicalQuery(request.query),
            headers.block,
            headers.signedHeaders,
            payloadHash,
        ].joined(separator: "\n")
        return (text, headers.signedHeaders)
    }

    package func stringToSign(canonicalRequest: String, at time: Timestamp) -> String {
        stringToSign(canonicalRequest: canonicalRequest, stamp: AmzDate(time))
    }

    private func stringToSign(canonicalRequest: String, stamp: AmzDate) -> String {
        [Self.algorithm, stamp.dateTime, scope(stamp), Self.hex(SHA256.hash(data: Array(canonicalRequest.utf8)))]
            .joined(separator: "\n")
    }

    private func scope(_ stamp: AmzDate) -> String {
        "\(stamp.date)/\(region)/\(service)/aws4_request"
    }

    /// HMAC chain: `AWS4` + secret → date → region → service → `aws4_request` → the string to sign.
    private func signature(stringToSign: String, stamp: AmzDate) -> String {
        var key = SymmetricKey(data: Array(("AWS4" + credentials.secretAccessKey).utf8))
        for part in [stamp.date, region, service, "aws4_request"] {
            key = SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        return Self.hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key))
    }

    private func canonicalURI(_ encodedPath: String) -> String {
        let path = encodedPath.isEmpty ? "/" : encodedPath
        switch flavor {
        case .s3:
            return path
        case .generic:
            return Self.encode(Self.normalize(path), keepingSlash: true)
        }
    }

    /// Sorted by encoded name, then by encoded value; both encoded as RFC 3986 unreserved only.
    private static func canonicalQuery(_ query: [(name: String, value: String)]) -> String {
        query.map { (encode($0.name), encode($0.value)) }
            .sorted { $0.0 == $1.0 ? $0.1.utf8.lexicographicallyPrecedes($1.1.utf8) : $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// Lowercase names, sorted; repeated names joined with `,` in order; values trimmed with inner
    /// runs of white space (folded lines included) reduced to one space.
    private static func canonicalHeaders(_ headers: [(name: String, value: String)]) -> (block: String, signedHeaders: String) {
        var values: [String: [String]] = [:]
        for (name, value) in headers {
            let trimmed = value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" })
                .joined(separator: " ")
            values[name.lowercased().trimmingWhiteSpace, default: []].append(trimmed)
        }
        let names = values.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let block = names.map { "\($0):\(values[$0]!.joined(separator: ","))\n" }.joined()
        return (block, names.joined(separator: ";"))
    }

    /// Removes `.` and `..` segments and empty segments, keeping a trailing slash (RFC 3986 5.2.4,
    /// as the non-S3 services expect).
    private static func normalize(_ path: String) -> String {
        var output: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            if segment == "." { continue }
            if segment == ".." {
                if !output.isEmpty { output.removeLast() }
                continue
            }
            output.append(segment)
        }
        var normalized = "/" + output.joined(separator: "/")
        let last = path.split(separator: "/", omittingEmptySubsequences: false).last
        if path.hasSuffix("/") || last == "." || last == "..", !output.isEmpty { normalized += "/" }
        return normalized
    }

    // MARK: - URI encoding

    /// Percent-encodes every byte of the UTF-8 form except the RFC 3986 unreserved characters
    /// (`A–Z a–z 0–9 - . _ ~`), and `/` too when `keepingSlash`; hex digits are uppercase. A space is
    /// `%20` and `+` is `%2B`, never the form encoding.
    public static func encode(_ text: String, keepingSlash: Bool = false) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                output.append(byte)
            case UInt8(ascii: "/") where keepingSlash:
                output.append(byte)
            default:
                output.append(UInt8(ascii: "%"))
                output.append(hexDigits[Int(byte >> 4)])
                output.append(hexDigits[Int(byte & 0x0F)])
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// An S3 object path as sent and signed: each byte encoded except unreserved characters and `/`
    /// (S3 does not encode twice). `"a b/ü"` becomes `"a%20b/%C3%BC"`.
    public static func encodePath(_ unencodedPath: String) -> String {
        encode(unencodedPath, keepingSlash: true)
    }

    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    /// Lowercase hex.
    static func hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var output: [UInt8] = []
        for byte in bytes {
            output.append(digits[Int(byte >> 4)])
            output.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: output, as: UTF8.self)
    }
}

/// An access key, its secret and, for temporary credentials, the session token. Never printed.
public struct SigV4Credentials: Sendable, CustomStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    public var description: String {
        "SigV4Credentials(accessKeyID: \(accessKeyID), secretAccessKey: <redacted>"
            + (sessionToken == nil ? ")" : ", sessionToken: <redacted>)")
    }

    /// What log handlers must scrub: the secret and the session token.
    public var secrets: [String] { [secretAccessKey] + (sessionToken.map { [$0] } ?? []) }
}

/// The signing time in SigV4's two forms, in UTC: `20150830T123600Z` and `20150830`; and the
/// day as `2015-08-30` for key prefixes.
struct AmzDate {
    let dateTime: String
    let date: String
    let isoDate: String

    init(_ time: Timestamp) {
        var seconds = time_t(time.secondsSinceEpoch)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        let (year, month, day) = (pad(parts.tm_year + 1900, 4), pad(parts.tm_mon + 1, 2), pad(parts.tm_mday, 2))
        date = year + month + day
        isoDate = year + "-" + month + "-" + day
        dateTime = date + "T" + pad(parts.tm_hour, 2) + pad(parts.tm_min, 2) + pad(parts.tm_sec, 2) + "Z"
    }
}

extension String {
    fileprivate var trimmingWhiteSpace: String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        return String(scalars)
    }
}
