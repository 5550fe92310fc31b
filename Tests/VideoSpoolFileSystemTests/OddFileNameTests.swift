#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import VideoSpoolCore
import VideoSpoolFileSystem

/// Names a user can create that are not plain text: bytes that are not UTF-8, backslashes, and
/// names so long that `<name>.error.json` would exceed `NAME_MAX`. Each must be listed, read,
/// removed and rejected under an escaped name that reaches the kernel byte for byte.
@Suite(.timeLimit(.minutes(2)))
struct OddFileNameTests {
    /// `caf\xE9-\xFF\xFE.json`: Latin-1 "é" and a UTF-16 BOM's bytes.
    static let latin1Name: [UInt8] = Array("caf".utf8) + [0xE9, UInt8(ascii: "-"), 0xFF, 0xFE] + Array(".json".utf8)
    static let latin1Escaped = #"caf\xE9-\xFF\xFE.json"#

    /// `directory/name` as the kernel takes it.
    static func path(_ directory: String, _ name: [UInt8]) -> [CChar] {
        (Array(directory.utf8) + [UInt8(ascii: "/")] + name + [0]).map { CChar(bitPattern: $0) }
    }

    static func write(_ bytes: [UInt8], named name: [UInt8], in directory: String) throws {
        let descriptor = open(path(directory, name), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw POSIXFailure("create \(SpoolFileName.escape(name))") }
        defer { close(descriptor) }
        guard bytes.withUnsafeBytes({ Glibc.write(descriptor, $0.baseAddress, $0.count) }) == bytes.count else {
            throw POSIXFailure("write")
        }
    }

    static func read(named name: [UInt8], in directory: String) throws -> [UInt8] {
        let descriptor = open(path(directory, name), O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw POSIXFailure("open \(SpoolFileName.escape(name))") }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
        guard count >= 0 else { throw POSIXFailure("read") }
        return Array(buffer[..<count])
    }

    /// The entries of a directory as bytes (FileManager would turn invalid UTF-8 into something else).
    static func rawEntries(of directory: String) throws -> Set<[UInt8]> {
        guard let handle = opendir(directory) else { throw POSIXFailure("opendir \(directory)") }
        defer { closedir(handle) }
        var names: Set<[UInt8]> = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            if name != [UInt8(ascii: ".")], name != Array("..".utf8) { names.insert(name) }
        }
        return names
    }

    // MARK: - Names that are not UTF-8

    @Test func aNameThatIsNotUTF8IsListedEscapedAndReadAndRemovedByThatName() async throws {
        try await withSpool { spool in
            try Self.write(Array("{}".utf8), named: Self.latin1Name, in: spool.incoming)
            #expect(try await spool.incomingNames() == [Self.latin1Escaped])
            let file = try #require(await spool.read(Self.latin1Escaped, maximumBytes: 1024).file)
            #expect(file.bytes == Array("{}".utf8))
            #expect(file.name == Self.latin1Escaped)
            try await spool.remove(Self.latin1Escaped)
            #expect(try Self.rawEntries(of: spool.incoming).isEmpty)
        }
    }

    @Test func aNameThatIsNotUTF8IsRejectedUnderItsOwnBytesWithItsReportBeside() async throws {
        try await withSpool { spool in
            try Self.write(Array("{\"a\":NaN}".utf8), named: Self.latin1Name, in: spool.incoming)
            let used = try await spool.reject(Self.latin1Escaped, errorDocument: Array("report".utf8))
            #expect(used == Self.latin1Escaped)
            #expect(try Self.rawEntries(of: spool.incoming).isEmpty)
            let rejected = try Self.rawEntries(of: spool.rejectedDirectory)
            let report = Self.latin1Name + Array(".error.json".utf8)
            #expect(rejected == [Self.latin1Name, report])
            #expect(try Self.read(named: Self.latin1Name, in: spool.rejectedDirectory) == Array("{\"a\":NaN}".utf8))
            #expect(try Self.read(named: report, in: spool.rejectedDirectory) == Array("report".utf8))
        }
    }

    @Test func aBackslashAndALiteralEscapeAreNotMistakenForTheBytesTheyLookLike() async throws {
        try await withSpool { spool in
            let literal = Array(#"caf\xE9.json"#.utf8)  // the text backslash-x-E-9, which is valid UTF-8
            let byte = Array("caf".utf8) + [0xE9] + Array(".json".utf8)
            try Self.write(Array("literal".utf8), named: literal, in: spool.incoming)
            try Self.write(Array("byte".utf8), named: byte, in: spool.incoming)
            let names = try await spool.incomingNames()
            #expect(Set(names) == [#"caf\\xE9.json"#, #"caf\xE9.json"#])
            #expect(try #require(await spool.read(#"caf\\xE9.json"#, maximumBytes: 64).file).bytes == Array("literal".utf8))
            #expect(try #require(await spool.read(#"caf\xE9.json"#, maximumBytes: 64).file).bytes == Array("byte".utf8))
        }
    }

    @Test func inotifyReportsANameThatIsNotUTF8Escaped() async throws {
        try await withSpool { spool in
            let stream = try spool.watch()
            try Self.write(Array("{}".utf8), named: Self.latin1Name, in: spool.incoming)
            try await changes(
                in: stream,
                until: { $0 == .file(Self.latin1Escaped) },
                waitingFor: ".file(\(Self.latin1Escaped))"
            )
        }
    }

    // MARK: - Names near NAME_MAX

    /// A `length`-byte name ending in `.json`; `high` uses two-byte characters and invalid bytes.
    static func longName(_ length: Int, tag: UInt8 = UInt8(ascii: "n"), high: Bool = false) -> [UInt8] {
        let body = length - 5
        let filler: [UInt8] = high ? Array(repeating: [0xC3, 0xA9, 0xFF], count: body / 3 + 1).flatMap { $0 } : Array(repeating: tag, count: body)
        return Array(filler.prefix(body)) + Array(".json".utf8)
    }

    @Test(arguments: [239, 240, 244, 245, 246, 250, 254, 255])
    func aNameUpToNameMaxIsRejectedWithAFindableReport(length: Int) async throws {
        try await withSpool { spool in
            for high in [false, true] {
                let name = Self.longName(length, high: high)
                try Self.write(Array("body".utf8), named: name, in: spool.incoming)
                let escaped = SpoolFileName.escape(name)
                #expect(try await spool.incomingNames() == [escaped])
                let used = try await spool.reject(escaped, errorDocument: Array("report".utf8))
                #expect(used == escaped, "the file keeps its name")
                let report = SpoolFileName.fitting(name, suffix: Array(".error.json".utf8))
                #expect(report.count <= 255)
                if length <= 244 {
                    #expect(report == name + Array(".error.json".utf8))
                } else {
                    // Cut, then `~` and 8 hex digits of the name's SHA-256: still begins like the file.
                    let digest = Array(ContentDigest.sha256Hex(name).prefix(8).utf8)
                    // (A byte or two shorter when the cut backs up to the start of a character.)
                    #expect((253...255).contains(report.count))
                    #expect(Array(report.dropLast(11).suffix(9)) == [UInt8(ascii: "~")] + digest)
                    #expect(report.starts(with: name.prefix(200)))
                }
                #expect(try Self.read(named: name, in: spool.rejectedDirectory) == Array("body".utf8))
                #expect(try Self.read(named: report, in: spool.rejectedDirectory) == Array("report".utf8))
                #expect(try Self.rawEntries(of: spool.incoming).isEmpty)
                #expect(try Self.rawEntries(of: spool.rejectedDirectory).allSatisfy { $0.first != UInt8(ascii: ".") }, "no temporaries")
                for entry in try Self.rawEntries(of: spool.rejectedDirectory) {
                    #expect(unlink(Self.path(spool.rejectedDirectory, entry)) == 0)
                }
            }
        }
    }

    @Test func aSecondLongNameOfTheSameNameGetsAUniqueFittedName() async throws {
        try await withSpool { spool in
            let name = Self.longName(255)
            var used: [String] = []
            for round in 0..<3 {
                try Self.write(Array("request \(round)".utf8), named: name, in: spool.incoming)
                used.append(try await spool.reject(SpoolFileName.escape(name), errorDocument: Array("error \(round)".utf8)))
            }
            #expect(Set(used).count == 3)
            let rejected = try Self.rawEntries(of: spool.rejectedDirectory)
            #expect(rejected.count == 6, "three files and three reports")
            #expect(rejected.allSatisfy { $0.count <= 255 })
            for (round, escaped) in used.enumerated() {
                let target = SpoolFileName.unescape(escaped)
                #expect(target.count <= 255)
                let ending = Array((round == 0 ? ".json" : ".\(round).json").utf8)
                #expect(target.suffix(ending.count).elementsEqual(ending))
                #expect(try Self.read(named: target, in: spool.rejectedDirectory) == Array("request \(round)".utf8))
                let report = SpoolFileName.fitting(target, suffix: Array(".error.json".utf8))
                #expect(try Self.read(named: report, in: spool.rejectedDirectory) == Array("error \(round)".utf8))
            }
        }
    }

    // MARK: - Errors waiting cannot clear

    @Test func aMoveThatCannotSucceedIsAPermanentError() async throws {
        try await withSpool { spool in
            try writeFile("{}", to: spool.incoming + "/x.json")
            // rejected/ replaced by a regular file: ENOTDIR, whatever the daemon waits for.
            #expect(rmdir(spool.rejectedDirectory) == 0)
            try writeFile("not a directory", to: spool.rejectedDirectory)
            let error = await #expect(throws: SpoolFileSystemError.self) {
                try await spool.reject("x.json", errorDocument: [])
            }
            #expect(error?.errno == ENOTDIR)
            #expect(error?.isPermanent == true)
        }
    }

    @Test func aMoveThatMaySucceedLaterIsNotPermanent() async throws {
        try await withSpool { spool in
            try writeFile("{}", to: spool.incoming + "/x.json")
            // rejected/ gone: an operator may recreate it (the next start does).
            #expect(rmdir(spool.rejectedDirectory) == 0)
            let error = await #expect(throws: SpoolFileSystemError.self) {
                try await spool.reject("x.json", errorDocument: [])
            }
            #expect(error?.errno == ENOENT)
            #expect(error?.isPermanent == false)
        }
    }
}
