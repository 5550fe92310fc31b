import AsyncHTTPClient
import Foundation
import NIOCore
import Testing
import VideoSpoolCore
import VideoSpoolSimulator

/// The MP4 the simulator serves: its box structure, read back here by a small ISO BMFF reader.
struct SimulatedVideoTests {
    /// One box: type, where its payload starts and how long it is.
    struct Box {
        let type: String
        let payload: Range<Int>
    }

    /// The boxes in `bytes[range]`, each size checked to fit.
    static func boxes(_ bytes: [UInt8], in range: Range<Int>) throws -> [Box] {
        var boxes: [Box] = []
        var offset = range.lowerBound
        while offset < range.upperBound {
            guard offset + 8 <= range.upperBound else { throw TestFailure("a box header runs past its parent at \(offset)") }
            var size = Int(UInt32(bigEndian: bytes[offset..<offset + 4].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }))
            let type = String(decoding: bytes[offset + 4..<offset + 8], as: UTF8.self)
            var header = 8
            if size == 1 {
                size = Int(UInt64(bigEndian: bytes[offset + 8..<offset + 16].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }))
                header = 16
            }
            guard size >= header, offset + size <= range.upperBound else {
                throw TestFailure("box '\(type)' at \(offset) has size \(size), past its parent's end \(range.upperBound)")
            }
            boxes.append(Box(type: type, payload: (offset + header)..<(offset + size)))
            offset += size
        }
        return boxes
    }

    static func child(_ type: String, of box: Box, in bytes: [UInt8], skipping: Int = 0) throws -> Box {
        let start = box.payload.lowerBound + skipping
        guard let found = try boxes(bytes, in: start..<box.payload.upperBound).first(where: { $0.type == type }) else {
            throw TestFailure("no '\(type)' in '\(box.type)'")
        }
        return found
    }

    static func u32(_ bytes: [UInt8], _ at: Int) -> Int {
        Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
    }

    @Test func theVideoIsAnMP4WithOneH264FrameWhereItsTablesSay() throws {
        let video = SimulatedVideo(generationID: "gen-structure")
        let bytes = video.bytes
        #expect(Int64(bytes.count) == video.count)
        let top = try Self.boxes(bytes, in: 0..<bytes.count)
        #expect(top.map(\.type) == ["ftyp", "free", "moov", "mdat"])
        #expect(Array(bytes[top[0].payload.prefix(4)]) == Array("isom".utf8))

        let moov = top[2]
        let trak = try Self.child("trak", of: moov, in: bytes)
        let mdia = try Self.child("mdia", of: trak, in: bytes)
        let hdlr = try Self.child("hdlr", of: mdia, in: bytes)
        #expect(Array(bytes[(hdlr.payload.lowerBound + 8)..<(hdlr.payload.lowerBound + 12)]) == Array("vide".utf8))
        let stbl = try Self.child("stbl", of: Self.child("minf", of: mdia, in: bytes), in: bytes)
        // stsd: version/flags and entry count, then the avc1 sample entry; its avcC after 78 bytes.
        let avc1 = try Self.child("avc1", of: Self.child("stsd", of: stbl, in: bytes), in: bytes, skipping: 8)
        #expect(Self.u32(bytes, avc1.payload.lowerBound + 24) >> 16 == 16, "width")
        let avcC = try Self.child("avcC", of: avc1, in: bytes, skipping: 78)
        #expect(bytes[avcC.payload.lowerBound] == 1, "configurationVersion")
        #expect(bytes[avcC.payload.lowerBound + 1] == 66, "Baseline profile")
        let spsLength = Int(bytes[avcC.payload.lowerBound + 6]) << 8 | Int(bytes[avcC.payload.lowerBound + 7])
        #expect(bytes[avcC.payload.lowerBound + 8] & 0x1F == 7, "an SPS NAL unit")
        #expect(bytes[avcC.payload.lowerBound + 8 + spsLength] == 1, "one PPS")
        #expect(bytes[avcC.payload.lowerBound + 11 + spsLength] & 0x1F == 8, "a PPS NAL unit")

        // The sample table points at the frame inside mdat: one sample, its size and offset.
        let stsz = try Self.child("stsz", of: stbl, in: bytes)
        let stco = try Self.child("stco", of: stbl, in: bytes)
        #expect(Self.u32(bytes, stsz.payload.lowerBound + 8) == 1)
        let sampleSize = Self.u32(bytes, stsz.payload.lowerBound + 12)
        let sampleOffset = Self.u32(bytes, stco.payload.lowerBound + 8)
        let mdat = top[3]
        #expect(sampleOffset == mdat.payload.lowerBound)
        #expect(sampleOffset + sampleSize == mdat.payload.upperBound)
        // The sample is one length-prefixed IDR slice (NAL type 5) holding a 16×16 I_PCM macroblock.
        #expect(Self.u32(bytes, sampleOffset) == sampleSize - 4)
        #expect(bytes[sampleOffset + 4] & 0x1F == 5)
        #expect(sampleSize > 384)
    }

    @Test func everyGenerationGetsItsOwnFileNamingIt() throws {
        let first = SimulatedVideo(generationID: "gen-a").bytes
        let second = SimulatedVideo(generationID: "gen-b").bytes
        #expect(first != second)
        #expect(sha256Hex(first) != sha256Hex(second))
        let free = try Self.boxes(first, in: 0..<first.count)[1]
        #expect(String(decoding: first[free.payload], as: UTF8.self).contains("gen-a"))
        // Deterministic: the same generation is the same file.
        #expect(SimulatedVideo(generationID: "gen-a").bytes == first)
    }

    @Test func aSizedVideoHasExactlyThatManyBytesInBoundedChunksAndStaysValid() throws {
        let video = SimulatedVideo(generationID: "gen-sized", size: 1_000_003)
        #expect(video.count == 1_000_003)
        var chunks = 0
        var bytes: [UInt8] = []
        for chunk in video.chunks(in: 0..<video.count) {
            #expect(chunk.readableBytes <= 64 * 1024)
            bytes += chunk.readableBytesView
            chunks += 1
        }
        #expect(bytes.count == 1_000_003)
        #expect(chunks > 10)
        let top = try Self.boxes(bytes, in: 0..<bytes.count)
        #expect(top.map(\.type) == ["ftyp", "free", "moov", "mdat"])
        #expect(top[3].payload.upperBound == bytes.count)
        // Any range is the same bytes as the whole.
        let middle = video.chunks(in: 70_000..<200_000).reduce(into: [UInt8]()) { $0 += $1.readableBytesView }
        #expect(middle == Array(bytes[70_000..<200_000]))
    }

    @Test func aVideoPast4GiBUsesTheLargeMdatSize() throws {
        let size: Int64 = 5 * 1024 * 1024 * 1024
        let video = SimulatedVideo(generationID: "gen-huge", size: size)
        #expect(video.count == size)
        // Only the head is read: the file is never materialised.
        let head = video.chunks(in: 0..<4096).reduce(into: [UInt8]()) { $0 += $1.readableBytesView }
        let prefix = try Self.boxes(head, in: 0..<Self.offsetOfMdat(head))
        #expect(prefix.map(\.type) == ["ftyp", "free", "moov"])
        let at = Self.offsetOfMdat(head)
        #expect(Self.u32(head, at) == 1)
        #expect(String(decoding: head[(at + 4)..<(at + 8)], as: UTF8.self) == "mdat")
        let large = head[(at + 8)..<(at + 16)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        #expect(Int64(large) == size - Int64(at))
    }

    /// Where `mdat` starts: after ftyp, free and moov.
    static func offsetOfMdat(_ head: [UInt8]) -> Int {
        var offset = 0
        for _ in 0..<3 { offset += u32(head, offset) }
        return offset
    }
}
