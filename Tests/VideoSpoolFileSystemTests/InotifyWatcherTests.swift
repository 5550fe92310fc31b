#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing
import VideoSpoolCore
import VideoSpoolFileSystem
import VideoSpoolTesting

@Suite(.timeLimit(.minutes(2)))
struct InotifyWatcherTests {
    /// Ways a writer can publish a request. Each is set up before `watch()` so that the only event
    /// the publication itself causes is the one the case is about.
    enum Publication: String, CaseIterable, Sendable, CustomTestStringConvertible {
        /// Written under a hidden name, then renamed into place (`IN_MOVED_TO`).
        case rename
        /// An existing file opened, written and closed in place (`IN_CLOSE_WRITE`).
        case writeInPlace
        /// Hard-linked in from outside `incoming/` with link(2), as Maildir writers do (`IN_CREATE`).
        case hardLink

        var testDescription: String { rawValue }

        func prepare(in spool: LocalSpoolDirectory) throws {
            switch self {
            case .rename: try writeFile(#"{"prompt":"a"}"#, to: spool.incoming + "/.request.json.tmp")
            case .writeInPlace: try writeFile([], to: spool.incoming + "/request.json")
            case .hardLink: try writeFile(#"{"prompt":"a"}"#, to: spool.root + "/staged.json")
            }
        }

        func publish(in spool: LocalSpoolDirectory) throws {
            let target = spool.incoming + "/request.json"
            switch self {
            case .rename:
                guard Glibc.rename(spool.incoming + "/.request.json.tmp", target) == 0 else { throw POSIXFailure("rename") }
            case .writeInPlace:
                let descriptor = open(target, O_WRONLY | O_CLOEXEC)
                guard descriptor >= 0 else { throw POSIXFailure("open") }
                let bytes = Array(#"{"prompt":"a"}"#.utf8)
                let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress!, $0.count) }
                close(descriptor)
                guard written == bytes.count else { throw POSIXFailure("write") }
            case .hardLink:
                guard link(spool.root + "/staged.json", target) == 0 else { throw POSIXFailure("link") }
            }
        }
    }

    @Test(arguments: Publication.allCases)
    func aPublishedFileIsReportedByName(publication: Publication) async throws {
        try await withSpool { spool in
            try publication.prepare(in: spool)
            let stream = try spool.watch()
            // watch() has returned, so the watch is in place: nothing published from now on is missed.
            try publication.publish(in: spool)
            let seen = try await changes(
                in: stream,
                until: { $0 == .file("request.json") },
                waitingFor: ".file(request.json) after \(publication)"
            )
            #expect(seen.last == .file("request.json"))
        }
    }

    @Test func eachOfSeveralRenamedFilesIsReported() async throws {
        try await withSpool { spool in
            let names = (0..<20).map { "request-\($0).json" }
            for name in names { try writeFile("{}", to: spool.incoming + "/." + name + ".tmp") }
            let stream = try spool.watch()
            for name in names {
                #expect(rename(spool.incoming + "/." + name + ".tmp", spool.incoming + "/" + name) == 0)
            }
            let expected = Set(names.map(SpoolChange.file))
            let collector = NameCollector(expected: expected)
            try await changes(
                in: stream,
                until: { collector.record($0) },
                waitingFor: "all \(names.count) names"
            )
        }
    }

    @Test func aWritersHiddenTemporaryFileGivesNoHintAndItsRenameDoes() async throws {
        try await withSpool { spool in
            let stream = try spool.watch()
            // Created, written and closed under a dot-name (two events), then renamed in (one).
            try writeFile("{}", to: spool.incoming + "/.request.json.tmp")
            #expect(rename(spool.incoming + "/.request.json.tmp", spool.incoming + "/request.json") == 0)
            let seen = try await changes(
                in: stream,
                until: { $0 == .file("request.json") },
                waitingFor: ".file(request.json) after a hidden temporary"
            )
            #expect(seen == [.file("request.json")], "the temporary's events woke the intake: \(seen)")
        }
    }

    @Test func removingTheIncomingDirectoryAsksForARescanAndEndsTheStream() async throws {
        try await withSpool { spool in
            let stream = try spool.watch()
            #expect(rmdir(spool.incoming) == 0)
            let seen = try await allChanges(in: stream)
            #expect(seen.contains(.rescan), "saw \(seen)")
            // The thread closes its descriptor before it finishes the stream, so the end of the
            // stream is the end of the watch.
            #expect(seen.last == .rescan)
        }
    }

    @Test func renamingTheIncomingDirectoryAwayAsksForARescan() async throws {
        try await withSpool { spool in
            let stream = try spool.watch()
            #expect(rename(spool.incoming, spool.root + "/incoming-moved") == 0)
            let seen = try await allChanges(in: stream)
            #expect(seen.contains(.rescan), "saw \(seen)")
        }
    }

    @Test func watchingFailsWhenIncomingDoesNotExist() async throws {
        try await withTemporaryDirectory { root in
            let spool = LocalSpoolDirectory(root: root)
            #expect(throws: SpoolFileSystemError.self) { try spool.watch() }
        }
    }

    /// How a consumer stops listening.
    enum Ending: String, CaseIterable, Sendable, CustomTestStringConvertible {
        /// The task iterating the stream is cancelled.
        case cancelConsumer
        /// The stream is dropped without ever being iterated.
        case dropStream

        var testDescription: String { rawValue }
    }

    @Test(arguments: Ending.allCases)
    func endingTheConsumerStopsTheWatcherAndReleasesItsDescriptor(ending: Ending) async throws {
        try await withSpool { spool in
            let watched = try inode(of: spool.incoming)
            #expect(try inotifyWatchers(ofInode: watched) == 0)
            for _ in 0..<20 {
                switch ending {
                case .cancelConsumer:
                    let stream = try spool.watch()
                    #expect(try inotifyWatchers(ofInode: watched) >= 1)
                    let consumer = Task {
                        var count = 0
                        for await _ in stream { count += 1 }
                        return count
                    }
                    consumer.cancel()
                    // The consumer's loop ends: the stream finished.
                    _ = try await withTimeout(waitingFor: "the cancelled consumer to finish") { await consumer.value }
                    var iterator = stream.makeAsyncIterator()
                    #expect(await iterator.next() == nil, "a cancelled stream must stay finished")
                case .dropStream:
                    _ = try spool.watch()
                }
            }
            // Every watcher thread closes its inotify descriptor on its way out; counting the
            // descriptors that watch this test's directory is immune to other tests' descriptors.
            try await eventually("all 20 watcher threads to close their inotify descriptors") {
                try inotifyWatchers(ofInode: watched) == 0
            }
            // The spool still works with a fresh watch after all that.
            let stream = try spool.watch()
            try writeFile("{}", to: spool.incoming + "/after.json")
            try await changes(in: stream, until: { $0 == .file("after.json") }, waitingFor: ".file(after.json)")
        }
    }

    @Test func descriptorsOpenedByWatchAreAllClosedAfterTwentyCycles() async throws {
        try await withSpool { spool in
            let watched = try inode(of: spool.incoming)
            var opened: Set<String> = []
            for cycle in 0..<20 {
                let before = try openPipes()
                let stream = try spool.watch()
                opened.formUnion(try openPipes().subtracting(before))
                let name = "cycle-\(cycle).json"
                try writeFile("{}", to: spool.incoming + "/" + name)
                try await changes(in: stream, until: { $0 == .file(name) }, waitingFor: ".file(\(name))")
                // `changes` has stopped iterating; the stream is dropped at the end of this iteration.
            }
            // Pipes are named by inode (`pipe:[1234]`), so the ones watch() opened can be told apart
            // from any other test's, whatever runs alongside in this process.
            try await eventually("the watchers' inotify descriptors and pipes to close") {
                try inotifyWatchers(ofInode: watched) == 0 && openPipes().isDisjoint(with: opened)
            }
        }
    }
}

/// Collects `.file` changes until every expected one has been seen.
private final class NameCollector: Sendable {
    private let remaining: Mutex<Set<SpoolChange>>

    init(expected: Set<SpoolChange>) {
        remaining = Mutex(expected)
    }

    /// Returns true once nothing expected is missing.
    func record(_ change: SpoolChange) -> Bool {
        remaining.withLock { remaining in
            remaining.remove(change)
            return remaining.isEmpty
        }
    }
}
