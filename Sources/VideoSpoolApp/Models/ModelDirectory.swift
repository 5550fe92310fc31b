import Foundation
public import VideoSpoolCore

#if canImport(Glibc)
import Glibc
#endif

/// Reads operator model definitions: every `*.json` in a directory (`models.directory`), in name
/// order, on top of the built-in models. Names starting with `.` are skipped (editor and lock
/// files). One broken file fails the whole load, naming the file and the problem, so a start-up
/// stops (exit 78) and a reload keeps the running set.
public enum ModelDirectory {
    /// Definition files larger than this are refused unread: a definition is a few kilobytes.
    public static let maximumFileBytes = 1 << 20

    /// The built-in catalog plus the definitions in `directory`.
    ///
    /// - Parameter required: when false, a directory that does not exist just adds nothing (the
    ///   default `/etc/videospool/models.d` need not exist); when true it is an error.
    /// - Throws: ``ConfigurationError`` for `models.directory`, naming the file and the problem.
    public static func load(
        _ directory: String,
        required: Bool,
        base: ModelCatalog = .builtIn
    ) throws(ConfigurationError) -> ModelCatalog {
        var catalog = base
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            if !required { return catalog }
            throw ConfigurationError(key: "models.directory", "\(directory) does not exist")
        }
        guard isDirectory.boolValue else {
            throw ConfigurationError(key: "models.directory", "\(directory) is not a directory")
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw ConfigurationError(key: "models.directory", "cannot list \(directory): \(error.localizedDescription)")
        }
        for name in names.sorted() where name.hasSuffix(".json") && !name.hasPrefix(".") {
            let path = (directory as NSString).appendingPathComponent(name)
            do {
                try catalog.add(try read(path), source: .file(path))
            } catch {
                throw ConfigurationError(key: "models.directory", "\(path): \(error)")
            }
        }
        return catalog
    }

    /// One definition file, read up to the size cap (a symlink is followed, as for any file here).
    static func read(_ path: String) throws(ModelDefinitionError) -> ModelSchema {
        // A FIFO or a device would block the read or never end.
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw ModelDefinitionError(path: "", "cannot be read: \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw ModelDefinitionError(path: "", "is not a regular file")
        }
        let data: Data
        do {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            data = try handle.read(upToCount: maximumFileBytes + 1) ?? Data()
        } catch {
            throw ModelDefinitionError(path: "", "cannot be read: \(error.localizedDescription)")
        }
        guard data.count <= maximumFileBytes else {
            throw ModelDefinitionError(path: "", "is larger than \(maximumFileBytes) bytes; a definition is a few kilobytes")
        }
        return try ModelSchema(definition: Array(data))
    }
}
