import Foundation

/// What the benchmark's workspace lives on, for the summary: file creation costs far more on an ext4
/// without a journal, which hunts for an inode not freed in the last seconds (docs/performance.md),
/// so figures from two machines compare only with this beside them.
enum WorkspaceFileSystem {
    /// "ext4 without a journal", "ext4 with a journal", "tmpfs", …, for the mount holding `path`.
    static func describe(_ path: String) -> String {
        guard let mounts = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return "unknown" }
        // mountinfo: id parent major:minor root mountpoint options … - fstype source superoptions
        var best: (point: String, type: String, device: String)?
        for line in mounts.split(separator: "\n") {
            let halves = line.components(separatedBy: " - ")
            let fields = halves[0].split(separator: " ").map(String.init)
            guard halves.count == 2, fields.count >= 5, let type = halves[1].split(separator: " ").first else { continue }
            let point = fields[4]
            let inside = path == point || path.hasPrefix(point.hasSuffix("/") ? point : point + "/")
            if inside, point.count >= (best?.point.count ?? -1) { best = (point, String(type), fields[2]) }
        }
        guard let best else { return "unknown" }
        guard best.type == "ext4" else { return best.type }
        // /sys/fs/ext4/<device>/journal_task names the journal thread, or "<none>".
        let device = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/sys/dev/block/\(best.device)"))
            .map { URL(fileURLWithPath: $0).lastPathComponent }
        guard let device, let task = try? String(contentsOfFile: "/sys/fs/ext4/\(device)/journal_task", encoding: .utf8)
        else { return "ext4" }
        return task.trimmingCharacters(in: .whitespacesAndNewlines) == "<none>" ? "ext4 without a journal" : "ext4 with a journal"
    }
}
