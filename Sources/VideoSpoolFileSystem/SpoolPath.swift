import VideoSpoolCore

/// A path in the spool as the kernel takes it (NUL-terminated bytes) and as messages show it (the
/// name in ``SpoolFileName``'s escaped form), so that a name that is not UTF-8 reaches the kernel
/// byte for byte.
struct SpoolPath: CustomStringConvertible {
    /// The path's bytes and a terminating NUL, to pass where a `const char *` is expected.
    let cString: [CChar]
    let description: String

    /// `directory/name`, where `name` is the bytes of one entry.
    init(directory: String, name: [UInt8]) {
        cString = (Array(directory.utf8) + [UInt8(ascii: "/")] + name + [0]).map { CChar(bitPattern: $0) }
        description = directory + "/" + SpoolFileName.escape(name)
    }

    /// A path that is text already (a directory, or a name the daemon made from a job id).
    init(_ path: String) {
        cString = Array(path.utf8CString)
        description = path
    }

    /// `directory/name`, where `name` is in the escaped form the port uses.
    init(directory: String, escapedName name: String) {
        self.init(directory: directory, name: SpoolFileName.unescape(name))
    }
}
