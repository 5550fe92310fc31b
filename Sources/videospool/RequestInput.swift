import Foundation

/// Reads a request from a file or, for `-`, from standard input, at most `limit + 1` bytes: enough
/// to tell that it is too large without reading an endless stream.
enum RequestInput {
    struct Unreadable: Error, CustomStringConvertible {
        let description: String
    }

    static func read(_ path: String, limit: Int) throws(Unreadable) -> [UInt8] {
        let handle: FileHandle
        if path == "-" {
            handle = FileHandle.standardInput
        } else {
            guard let opened = FileHandle(forReadingAtPath: path) else {
                let reason = FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file"
                throw Unreadable(description: "cannot read \(path): \(reason)")
            }
            handle = opened
        }
        defer { if path != "-" { try? handle.close() } }
        var bytes: [UInt8] = []
        do {
            while bytes.count <= limit {
                guard let chunk = try handle.read(upToCount: min(64 * 1024, limit + 1 - bytes.count)), !chunk.isEmpty
                else { break }
                bytes.append(contentsOf: chunk)
            }
        } catch {
            throw Unreadable(description: "cannot read \(path == "-" ? "standard input" : path): \(error.localizedDescription)")
        }
        return bytes
    }

    /// How a path is named in messages.
    static func displayName(_ path: String) -> String {
        path == "-" ? "(stdin)" : path
    }
}
