#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import VideoSpoolCore
import VideoSpoolFileSystem
import VideoSpoolTesting

struct SpoolPreparationTests {
    static let subdirectories = ["done", "failed", "incoming", "rejected"]

    @Test func prepareCreatesTheFourSubdirectories() async throws {
        try await withTemporaryDirectory { root in
            let spool = LocalSpoolDirectory(root: root)
            try spool.prepare()
            #expect(try entries(of: root) == Self.subdirectories)
            for name in Self.subdirectories {
                #expect(try fileType(root + "/" + name) == S_IFDIR, "\(name)/ is not a directory")
            }
            #expect(spool.incoming == root + "/incoming")
            #expect(spool.rejectedDirectory == root + "/rejected")
            #expect(spool.doneDirectory == root + "/done")
            #expect(spool.failedDirectory == root + "/failed")
        }
    }

    @Test func prepareCreatesAMissingRootWhoseParentExists() async throws {
        try await withTemporaryDirectory { parent in
            let spool = LocalSpoolDirectory(root: parent + "/spool/")
            #expect(spool.root == parent + "/spool")
            try spool.prepare()
            #expect(try entries(of: parent + "/spool") == Self.subdirectories)
        }
    }

    @Test func prepareIsIdempotentAndKeepsWhatIsAlreadyThere() async throws {
        try await withSpool { spool in
            try writeFile("{}", to: spool.incoming + "/waiting.json")
            try writeFile("{}", to: spool.doneDirectory + "/job-1.json")
            try spool.prepare()
            try spool.prepare()
            #expect(try entries(of: spool.root) == Self.subdirectories)
            #expect(try entries(of: spool.incoming) == ["waiting.json"])
            #expect(try entries(of: spool.doneDirectory) == ["job-1.json"])
        }
    }

    @Test func aSymlinkedSpoolRootIsAccepted() async throws {
        try await withTemporaryDirectory { parent in
            try FileManager.default.createDirectory(atPath: parent + "/elsewhere", withIntermediateDirectories: true)
            #expect(symlink(parent + "/elsewhere", parent + "/spool") == 0)
            try LocalSpoolDirectory(root: parent + "/spool").prepare()
            #expect(try entries(of: parent + "/elsewhere") == Self.subdirectories)
        }
    }

    @Test func prepareFailsClearlyWhenTheRootIsARegularFile() async throws {
        try await withTemporaryDirectory { parent in
            let root = parent + "/spool"
            try writeFile("not a directory", to: root)
            let error = try #require(throws: SpoolFileSystemError.self) {
                try LocalSpoolDirectory(root: root).prepare()
            }
            #expect(error.path == root)
            #expect(error.errno == ENOTDIR)
            #expect(error.description.contains(root))
            #expect(try contents(of: root) == Array("not a directory".utf8), "the file was changed")
        }
    }

    @Test(arguments: ["incoming", "rejected", "done", "failed"])
    func prepareFailsWhenASubdirectoryIsARegularFile(name: String) async throws {
        try await withTemporaryDirectory { root in
            try writeFile("x", to: root + "/" + name)
            let error = try #require(throws: SpoolFileSystemError.self) {
                try LocalSpoolDirectory(root: root).prepare()
            }
            #expect(error.path == root + "/" + name)
        }
    }
}

struct IncomingNamesTests {
    @Test func onlyVisibleJSONNamesAreListedInSortedOrder() async throws {
        try await withSpool { spool in
            for name in ["b.json", "c.json", "a.json", ".x.json.tmp", ".hidden.json", "x.txt", "upper.JSON", "json", ".json"] {
                try writeFile("{}", to: spool.incoming + "/" + name)
            }
            #expect(try await spool.incomingNames() == ["a.json", "b.json", "c.json"])
        }
    }

    @Test func anEmptyIncomingDirectoryListsNothing() async throws {
        try await withSpool { spool in
            let names = try await spool.incomingNames()
            #expect(names == [])
        }
    }

    @Test func entriesThatAreNotFilesAreListedSoTheyCanBeRejected() async throws {
        try await withSpool { spool in
            #expect(mkdir(spool.incoming + "/folder.json", 0o755) == 0)
            #expect(symlink("/etc/passwd", spool.incoming + "/link.json") == 0)
            let names = try await spool.incomingNames()
            #expect(names == ["folder.json", "link.json"])
        }
    }

    @Test func listingFailsWhenIncomingIsMissing() async throws {
        try await withTemporaryDirectory { root in
            let spool = LocalSpoolDirectory(root: root)
            await #expect(throws: SpoolFileSystemError.self) { try await spool.incomingNames() }
        }
    }
}

struct SpoolReadTests {
    static let limit = 1 << 20

    @Test func aRegularFileIsReadWithItsExactBytesModificationTimeAndLinkCount() async throws {
        try await withSpool { spool in
            let path = spool.incoming + "/request.json"
            let bytes: [UInt8] = Array(#"{"prompt":"a cat","duration":5}"#.utf8) + [0x0A, 0x00, 0xFF]
            try writeFile(bytes, to: path)
            var times = [
                timespec(tv_sec: 1_795_598_593, tv_nsec: 123_456_789),
                timespec(tv_sec: 1_795_598_593, tv_nsec: 123_456_789),
            ]
            #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)

            let file = try #require(await spool.read("request.json", maximumBytes: Self.limit).file)
            #expect(file.name == "request.json")
            #expect(file.bytes == bytes)
            #expect(file.modifiedAt == Timestamp(millisecondsSinceEpoch: 1_795_598_593_123))
            #expect(file.linkCount == 1)
            #expect(try contents(of: path) == bytes, "reading must leave the file in place")
        }
    }

    @Test func anEmptyFileIsReadAsEmptyBytes() async throws {
        try await withSpool { spool in
            try writeFile([], to: spool.incoming + "/empty.json")
            let file = try #require(await spool.read("empty.json", maximumBytes: Self.limit).file)
            #expect(file.bytes.isEmpty)
            #expect(file.linkCount == 1)
        }
    }

    @Test func aMissingNameHasVanished() async throws {
        try await withSpool { spool in
            #expect(await spool.read("gone.json", maximumBytes: Self.limit).isVanished)
        }
    }

    @Test func aHardLinkedFileIsReadAndReportsBothLinks() async throws {
        try await withSpool { spool in
            let outside = spool.root + "/original.json"
            try writeFile("{}", to: outside)
            #expect(link(outside, spool.incoming + "/linked.json") == 0)
            let file = try #require(await spool.read("linked.json", maximumBytes: Self.limit).file)
            #expect(file.bytes == Array("{}".utf8))
            #expect(file.linkCount == 2)
        }
    }

    /// Entries that can never be a request, each refused by the open or the `fstat` that follows.
    enum UnusableEntry: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case symlinkToShadow
        case symlinkToPasswd
        case symlinkInsideSpool
        case danglingSymlink
        case symlinkToDirectory
        case directory
        case fifo
        case socket

        var testDescription: String { rawValue }

        var expectedCode: ValidationIssue.Code {
            switch self {
            case .symlinkToShadow, .symlinkToPasswd, .symlinkInsideSpool, .danglingSymlink, .symlinkToDirectory:
                .symlink
            case .directory, .fifo, .socket: .notRegularFile
            }
        }

        /// Creates the entry at `incoming/x.json`; returns a descriptor to close afterwards, if any.
        func make(in spool: LocalSpoolDirectory) throws -> Int32? {
            let path = spool.incoming + "/x.json"
            switch self {
            case .symlinkToShadow: try Self.link("/etc/shadow", path)
            case .symlinkToPasswd: try Self.link("/etc/passwd", path)
            case .symlinkInsideSpool:
                try writeFile(#"{"prompt":"secret target"}"#, to: spool.incoming + "/target.json")
                try Self.link(spool.incoming + "/target.json", path)
            case .danglingSymlink: try Self.link(spool.root + "/nowhere.json", path)
            case .symlinkToDirectory: try Self.link(spool.doneDirectory, path)
            case .directory:
                guard mkdir(path, 0o755) == 0 else { throw POSIXFailure("mkdir") }
            case .fifo:
                guard mkfifo(path, 0o644) == 0 else { throw POSIXFailure("mkfifo") }
            case .socket:
                return try bindUnixSocket(at: path)
            }
            return nil
        }

        private static func link(_ target: String, _ path: String) throws {
            guard symlink(target, path) == 0 else { throw POSIXFailure("symlink") }
        }
    }

    @Test(arguments: UnusableEntry.allCases)
    func entriesThatAreNotRegularFilesAreRefusedWithoutBeingRead(entry: UnusableEntry) async throws {
        try await withSpool { spool in
            let descriptor = try entry.make(in: spool)
            defer { if let descriptor { close(descriptor) } }
            // A FIFO without a writer would block a blocking open or read forever: the race turns
            // such a regression into a failure instead of a hung test run.
            let result = try await withTimeout(.seconds(30), waitingFor: "read of \(entry)") {
                await spool.read("x.json", maximumBytes: Self.limit)
            }
            let issue = try #require(result.issue, "\(entry) was not refused: \(result)")
            #expect(issue.code == entry.expectedCode)
            #expect(issue.field == nil)
            #expect(!issue.message.isEmpty)
            #expect(exists(spool.incoming + "/x.json"), "reading must not remove the entry")
        }
    }

    @Test func aFileLargerThanTheLimitIsRefusedByItsSizeAlone() async throws {
        try await withSpool { spool in
            // A sparse file: 100 MB long but with no data blocks, so creating it is free and a
            // whole read (or a buffer of its size) would show up as a slow, memory-hungry test.
            let path = spool.incoming + "/huge.json"
            let size = 100 * 1024 * 1024
            let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            try #require(descriptor >= 0)
            #expect(ftruncate(descriptor, off_t(size)) == 0)
            close(descriptor)

            let result = await spool.read("huge.json", maximumBytes: Self.limit)
            let issue = try #require(result.issue)
            #expect(issue.code == .tooLarge)
            #expect(issue.message.contains("\(size)"), "the size should come from fstat: \(issue.message)")
            #expect(issue.message.contains("\(Self.limit)"))
        }
    }

    @Test(arguments: [(size: 0, limit: 0), (size: 10, limit: 10), (size: 11, limit: 10), (size: 4097, limit: 4096), (size: 4096, limit: 4096)])
    func theLimitIsInclusive(size: Int, limit: Int) async throws {
        try await withSpool { spool in
            let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0) }
            try writeFile(bytes, to: spool.incoming + "/sized.json")
            let result = await spool.read("sized.json", maximumBytes: limit)
            if size <= limit {
                #expect(result.file?.bytes == bytes)
            } else {
                #expect(result.issue?.code == .tooLarge)
            }
        }
    }
}

struct SpoolRemoveTests {
    @Test func removeDeletesTheFile() async throws {
        try await withSpool { spool in
            try writeFile("{}", to: spool.incoming + "/a.json")
            try writeFile("{}", to: spool.incoming + "/b.json")
            try await spool.remove("a.json")
            #expect(try entries(of: spool.incoming) == ["b.json"])
        }
    }

    @Test func removingAMissingFileIsNotAnError() async throws {
        try await withSpool { spool in
            try await spool.remove("never-there.json")
            try writeFile("{}", to: spool.incoming + "/twice.json")
            try await spool.remove("twice.json")
            try await spool.remove("twice.json")
            #expect(try entries(of: spool.incoming) == [])
        }
    }

    @Test func removingASymlinkDeletesTheLinkNotItsTarget() async throws {
        try await withSpool { spool in
            let target = spool.root + "/target.json"
            try writeFile("keep me", to: target)
            #expect(symlink(target, spool.incoming + "/link.json") == 0)
            try await spool.remove("link.json")
            #expect(try entries(of: spool.incoming) == [])
            #expect(try contents(of: target) == Array("keep me".utf8))
        }
    }
}

struct SpoolRejectTests {
    static let errorDocument = Array("{\n  \"errors\": [{\"code\": \"invalid_value\"}]\n}\n".utf8)

    @Test func rejectMovesTheFileAndWritesTheErrorDocumentBesideIt() async throws {
        try await withSpool { spool in
            let original = Array(#"{"prompt": 1}"#.utf8)
            try writeFile(original, to: spool.incoming + "/bad.json")
            let name = try await spool.reject("bad.json", errorDocument: Self.errorDocument)
            #expect(name == "bad.json")
            #expect(try entries(of: spool.incoming) == [])
            #expect(try entries(of: spool.rejectedDirectory) == ["bad.json", "bad.json.error.json"])
            #expect(try contents(of: spool.rejectedDirectory + "/bad.json") == original)
            #expect(try contents(of: spool.rejectedDirectory + "/bad.json.error.json") == Self.errorDocument)
        }
    }

    @Test func rejectingAFileThatIsAlreadyGoneWritesNoReport() async throws {
        try await withSpool { spool in
            _ = try await spool.reject("gone.json", errorDocument: Self.errorDocument)
            #expect(try entries(of: spool.rejectedDirectory) == [])
        }
    }

    @Test func aLeftOverReportIsNotOverwrittenByALaterRejection() async throws {
        try await withSpool { spool in
            try writeFile("older report", to: spool.rejectedDirectory + "/same.json.error.json")
            try writeFile("request", to: spool.incoming + "/same.json")
            let name = try await spool.reject("same.json", errorDocument: Self.errorDocument)
            #expect(name == "same.1.json")
            #expect(try contents(of: spool.rejectedDirectory + "/same.json.error.json") == Array("older report".utf8))
        }
    }

    @Test func aSecondRejectionOfTheSameNameGetsAUniqueNameAndKeepsTheFirst() async throws {
        try await withSpool { spool in
            var names: [String] = []
            for round in 0..<3 {
                try writeFile("request \(round)", to: spool.incoming + "/same.json")
                names.append(try await spool.reject("same.json", errorDocument: Array("error \(round)".utf8)))
            }
            #expect(names == ["same.json", "same.1.json", "same.2.json"])
            #expect(
                try entries(of: spool.rejectedDirectory) == [
                    "same.1.json", "same.1.json.error.json", "same.2.json", "same.2.json.error.json", "same.json",
                    "same.json.error.json",
                ]
            )
            for (round, name) in names.enumerated() {
                #expect(try contents(of: spool.rejectedDirectory + "/" + name) == Array("request \(round)".utf8))
                #expect(
                    try contents(of: spool.rejectedDirectory + "/" + name + ".error.json") == Array("error \(round)".utf8)
                )
            }
        }
    }

    @Test func rejectingASymlinkMovesTheLinkItselfAndNeverItsTarget() async throws {
        try await withSpool { spool in
            let target = spool.root + "/target.json"
            try writeFile("the target", to: target)
            #expect(symlink(target, spool.incoming + "/link.json") == 0)

            let name = try await spool.reject("link.json", errorDocument: Self.errorDocument)
            let moved = spool.rejectedDirectory + "/" + name
            #expect(try fileType(moved) == S_IFLNK)
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: moved) == target)
            #expect(try contents(of: target) == Array("the target".utf8))
            #expect(try entries(of: spool.root).contains("target.json"))
            #expect(try entries(of: spool.incoming) == [])
        }
    }

    @Test func rejectingADirectoryEntryMovesTheWholeDirectory() async throws {
        try await withSpool { spool in
            let directory = spool.incoming + "/folder.json"
            #expect(mkdir(directory, 0o755) == 0)
            try writeFile("inside", to: directory + "/inner.txt")

            let name = try await spool.reject("folder.json", errorDocument: Self.errorDocument)
            #expect(name == "folder.json")
            #expect(try fileType(spool.rejectedDirectory + "/folder.json") == S_IFDIR)
            #expect(try contents(of: spool.rejectedDirectory + "/folder.json/inner.txt") == Array("inside".utf8))
            #expect(try contents(of: spool.rejectedDirectory + "/folder.json.error.json") == Self.errorDocument)
            #expect(try entries(of: spool.incoming) == [])
        }
    }

    @Test func rejectingLeavesNoTemporaryFiles() async throws {
        try await withSpool { spool in
            try writeFile("{}", to: spool.incoming + "/.hidden.json")
            let name = try await spool.reject(".hidden.json", errorDocument: Self.errorDocument)
            #expect(try entries(of: spool.rejectedDirectory) == [name, name + ".error.json"].sorted())
            #expect(!(try entries(of: spool.rejectedDirectory)).contains { $0.hasSuffix(".tmp") })
        }
    }
}

struct SpoolOutcomeTests {
    @Test(arguments: [true, false])
    func anOutcomeIsWrittenAtomicallyToDoneOrFailed(completed: Bool) async throws {
        try await withSpool { spool in
            let id = try #require(JobID("job-42"))
            let first = Array("{\"status\":\"first\"}\n".utf8)
            let second = Array("{\"status\":\"second, and longer than the first\"}\n".utf8)
            let target = completed ? spool.doneDirectory : spool.failedDirectory
            let other = completed ? spool.failedDirectory : spool.doneDirectory

            try await spool.writeOutcome(first, jobID: id, completed: completed)
            #expect(try entries(of: target) == ["job-42.json"])
            #expect(try contents(of: target + "/job-42.json") == first)

            try await spool.writeOutcome(second, jobID: id, completed: completed)
            #expect(try entries(of: target) == ["job-42.json"], "a temporary file was left behind")
            #expect(try contents(of: target + "/job-42.json") == second)
            #expect(try entries(of: other) == [])

            try await spool.flush()
        }
    }

    @Test func aProcesssFirstFlushSyncsEachOfTheFourDirectories() async throws {
        try await withSpool { spool in
            try await spool.flush()
            // A new process (a fresh value for the same tree) cannot know what an earlier one left
            // unsynced: its first flush syncs all four. Without any one of them it fails, naming it
            // (a flush that synced nothing, or skipped one, would pass silently).
            for directory in [spool.incoming, spool.rejectedDirectory, spool.doneDirectory, spool.failedDirectory] {
                let fresh = LocalSpoolDirectory(root: spool.root)
                let aside = directory + ".aside"
                #expect(rename(directory, aside) == 0)
                let error = await #expect(throws: SpoolFileSystemError.self) { try await fresh.flush() }
                #expect(error?.path == directory)
                #expect(error?.operation == "open")
                #expect(rename(aside, directory) == 0)
                try await fresh.flush()
            }
        }
    }

    @Test func aFlushSyncsOnlyTheDirectoriesChangedSinceTheLastOne() async throws {
        try await withSpool { spool in
            try await spool.flush()
            // Nothing changed: a flush syncs nothing, so a directory moved aside goes unnoticed.
            #expect(rename(spool.doneDirectory, spool.doneDirectory + ".aside") == 0)
            try await spool.flush()
            #expect(rename(spool.doneDirectory + ".aside", spool.doneDirectory) == 0)

            // An outcome written to done/ makes done/ (and only done/) due, through any copy.
            let copy = spool
            try await copy.writeOutcome(Array("{}\n".utf8), jobID: try #require(JobID("job-1")), completed: true)
            #expect(rename(spool.failedDirectory, spool.failedDirectory + ".aside") == 0)
            #expect(rename(spool.doneDirectory, spool.doneDirectory + ".aside") == 0)
            let error = await #expect(throws: SpoolFileSystemError.self) { try await spool.flush() }
            #expect(error?.path == spool.doneDirectory)
            #expect(rename(spool.doneDirectory + ".aside", spool.doneDirectory) == 0)
            try await spool.flush()  // failed/ is still aside: it was not due
            #expect(rename(spool.failedDirectory + ".aside", spool.failedDirectory) == 0)

            // A removed request makes incoming/ due.
            try spool.publish(Array("{}".utf8), as: "a.json")
            try await spool.remove("a.json")
            #expect(rename(spool.incoming, spool.incoming + ".aside") == 0)
            let removal = await #expect(throws: SpoolFileSystemError.self) { try await spool.flush() }
            #expect(removal?.path == spool.incoming)
            #expect(rename(spool.incoming + ".aside", spool.incoming) == 0)
            try await spool.flush()
        }
    }

    @Test func aChangeMadeWhileAFlushSyncsStaysDueForTheNextFlush() {
        let changes = DirectoryChanges(directories: ["/spool/done"])
        let due = changes.behind()
        #expect(due.map(\.directory) == ["/spool/done"])
        // A rename lands in done/ after this flush's fsync began; the fsync may not cover it.
        changes.changed("/spool/done")
        for (directory, count) in due { changes.synced(directory, upTo: count) }
        #expect(changes.behind().map(\.directory) == ["/spool/done"])
        for (directory, count) in changes.behind() { changes.synced(directory, upTo: count) }
        #expect(changes.behind().isEmpty)
    }

    @Test func flushFailsWhenADirectoryIsMissing() async throws {
        try await withSpool { spool in
            #expect(rmdir(spool.doneDirectory) == 0)
            await #expect(throws: SpoolFileSystemError.self) { try await spool.flush() }
        }
    }

    @Test func anOutcomeWriteNeverReplacesASymlinkTarget() async throws {
        try await withSpool { spool in
            // A stale temporary name that is a symlink must not redirect the write elsewhere.
            let id = try #require(JobID("job-7"))
            let victim = spool.root + "/victim.txt"
            try writeFile("untouched", to: victim)
            #expect(symlink(victim, spool.doneDirectory + "/.job-7.json.tmp") == 0)
            _ = try? await spool.writeOutcome(Array("{}".utf8), jobID: id, completed: true)
            #expect(try contents(of: victim) == Array("untouched".utf8))
        }
    }
}
