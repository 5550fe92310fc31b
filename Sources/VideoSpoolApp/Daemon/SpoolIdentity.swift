import Foundation

/// The id of a spool directory, in its `.videospool-id` file: made once, by whichever daemon first
/// uses the directory, and then the same for every daemon that watches it (a shared spool on NFS
/// included). On a shared store, spool files and outcome files belong to a spool, not to a daemon.
enum SpoolIdentity {
    static let fileName = ".videospool-id"

    /// Reads the id, making it first if the file does not exist yet (two daemons racing to make it
    /// agree: only one `link(2)` wins and both read its id).
    static func read(spoolDirectory: String) throws -> String {
        let path = spoolDirectory + "/" + fileName
        if let id = try? existing(path) { return id }
        let temporary = spoolDirectory + "/.\(fileName).\(getpid()).tmp"
        let id = UUID().uuidString.lowercased()
        try Data((id + "\n").utf8).write(to: URL(fileURLWithPath: temporary), options: .atomic)
        defer { unlink(temporary) }
        // Never replaces an id another daemon wrote first.
        if link(temporary, path) != 0, errno != EEXIST {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        return try existing(path)
    }

    private static func existing(_ path: String) throws -> String {
        let text = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: path]) }
        return text
    }
}

/// This daemon's last instance id on the shared store, in `state.directory/instance-id`: the next
/// start, holding the state directory's lock, knows that instance is dead and releases its jobs at
/// once instead of after its lease.
enum InstanceIDFile {
    static func path(stateDirectory: String) -> String { stateDirectory + "/instance-id" }

    static func read(stateDirectory: String) -> String? {
        (try? String(contentsOfFile: path(stateDirectory: stateDirectory), encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func write(_ id: String, stateDirectory: String) {
        try? Data((id + "\n").utf8).write(to: URL(fileURLWithPath: path(stateDirectory: stateDirectory)), options: .atomic)
    }
}
