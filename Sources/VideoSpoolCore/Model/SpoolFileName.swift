/// How a spool entry's name, which the kernel keeps as bytes, is carried as text, and how names the
/// daemon makes from it are kept within the file system's limit.
///
/// A Linux file name is any bytes but `/` and NUL, so it need not be UTF-8. The daemon carries every
/// name in its escaped form: valid UTF-8 as it is, each byte that is not part of valid UTF-8 as
/// `\xHH` (two uppercase hex digits), and a backslash as `\\`, so that the escaped form always
/// decodes back to the very bytes it came from. That form is what logs, reports, the store,
/// `source_file` and webhooks show; the file-system adapter turns it back into bytes for every call.
public enum SpoolFileName {
    /// The escaped form of a name's bytes (see ``SpoolFileName``).
    public static func escape(_ name: some Collection<UInt8>) -> String {
        let bytes = Array(name)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var iterator = bytes.makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        // The parser reports how many bytes each scalar or invalid run took; `position` follows
        // along in `bytes`.
        var position = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded):
                if encoded.count == 1, encoded.first == backslash {
                    output += [backslash, backslash]
                } else {
                    output += encoded
                }
                position += encoded.count
            case .error(let length):
                for byte in bytes[position..<position + length] {
                    output += [backslash, UInt8(ascii: "x"), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0xF)]]
                }
                position += length
            case .emptyInput:
                return String(decoding: output, as: UTF8.self)
            }
        }
    }

    private static let backslash = UInt8(ascii: "\\")
    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    /// The bytes an escaped name stands for. Total: `\\` is a backslash, `\xHH` (either case) is
    /// that byte, and any other backslash is taken as it is, so text that was never escaped (an
    /// older store's name) decodes to itself unless it happens to contain those sequences.
    public static func unescape(_ text: String) -> [UInt8] {
        let bytes = Array(text.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            guard byte == backslash, index + 1 < bytes.count else {
                output.append(byte)
                index += 1
                continue
            }
            if bytes[index + 1] == backslash {
                output.append(backslash)
                index += 2
            } else if bytes[index + 1] == UInt8(ascii: "x"), index + 3 < bytes.count,
                let high = hexValue(bytes[index + 2]), let low = hexValue(bytes[index + 3])
            {
                output.append(high << 4 | low)
                index += 4
            } else {
                output.append(byte)
                index += 1
            }
        }
        return output
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    /// The longest name a Linux file system takes (`NAME_MAX`), in bytes.
    public static let maximumLength = 255

    /// `name` followed by `suffix` if that fits in `limit` bytes; otherwise the longest start of
    /// `name` that fits (cut before a UTF-8 character, never inside one), then `~`, the first 8 hex
    /// digits of the SHA-256 of all of `name`, then `suffix`.
    ///
    /// Two long names that share their start still get different results (the digest covers the
    /// whole name), and the start keeps the result recognisable next to the original.
    public static func fitting(_ name: [UInt8], suffix: [UInt8] = [], limit: Int = maximumLength) -> [UInt8] {
        if name.count + suffix.count <= limit { return name + suffix }
        let digest = Array(ContentDigest.sha256Hex(name).prefix(8).utf8)
        let marker = [UInt8(ascii: "~")] + digest
        var keep = max(0, min(name.count, limit - marker.count - suffix.count))
        // Back up over continuation bytes so a multi-byte character is not cut in half.
        var backedUp = 0
        while keep > 0, keep < name.count, name[keep] & 0xC0 == 0x80, backedUp < 3 {
            keep -= 1
            backedUp += 1
        }
        return Array(name[..<keep]) + marker + suffix
    }
}
