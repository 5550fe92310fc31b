public import NIOCore

/// The video the simulator serves for one generation: a valid MP4 (ISO BMFF) with one 16×16 H.264
/// frame, different for every generation.
///
/// Layout: `ftyp`, a `free` box naming the generation (so every file, and its SHA-256, differs),
/// `moov` (one video track, one sample), then `mdat` with the frame. The frame is a Baseline
/// profile IDR slice holding one I_PCM macroblock, a flat colour derived from the generation id,
/// so the bitstream is written here bit by bit without an encoder. A larger `size` pads `mdat`
/// after the frame with a fixed pseudo-random pattern: the file stays valid, its content is
/// deterministic (a test can predict its digest) and it is generated as it is sent, never held.
public struct SimulatedVideo: Sendable {
    public let generationID: String
    /// Everything up to the end of the frame sample.
    private let head: ByteBuffer
    /// Bytes of padding after the frame, inside `mdat`.
    private let paddingCount: Int64

    /// The smallest file: no padding.
    public init(generationID: String) {
        self.init(generationID: generationID, size: 0)
    }

    /// A file of exactly `size` bytes, or the smallest file if `size` is smaller than that.
    public init(generationID: String, size: Int64) {
        self.generationID = generationID
        let prefix = Self.ftyp() + Self.box("free", Array("videospool simulator generation \(generationID)\n".utf8))
        let sample = Self.sample(color: Self.color(for: generationID))
        let moovLength = Self.moov(sampleSize: sample.count, sampleOffset: 0).count
        let fixed = Int64(prefix.count + moovLength + sample.count)
        // `mdat` needs the 64-bit size form past 4 GiB, with a header 8 bytes longer.
        var headerLength: Int64 = 8
        var padding = max(size - fixed - headerLength, 0)
        if Int64(sample.count) + padding + headerLength > Int64(UInt32.max) {
            headerLength = 16
            padding = max(size - fixed - headerLength, 0)
        }
        let mdatSize = headerLength + Int64(sample.count) + padding
        let mdatHeader: [UInt8] =
            headerLength == 8
            ? Self.u32(UInt32(mdatSize)) + Array("mdat".utf8)
            : Self.u32(1) + Array("mdat".utf8) + Self.u64(UInt64(mdatSize))
        let sampleOffset = prefix.count + moovLength + mdatHeader.count
        self.head = ByteBuffer(bytes: prefix + Self.moov(sampleSize: sample.count, sampleOffset: sampleOffset) + mdatHeader + sample)
        self.paddingCount = padding
    }

    /// The file's length in bytes.
    public var count: Int64 { Int64(head.readableBytes) + paddingCount }

    /// The whole file (for tests; use ``chunks(in:)`` for large files).
    public var bytes: [UInt8] {
        var all: [UInt8] = []
        for chunk in chunks(in: 0..<count) { all += chunk.readableBytesView }
        return all
    }

    /// The bytes in `range` as buffers of at most 64 KiB that share storage with a fixed pattern,
    /// generated as they are iterated.
    public func chunks(in range: Range<Int64>) -> Chunks {
        Chunks(head: head, total: count, range: range.clamped(to: 0..<count))
    }

    /// Padding bytes after the frame: repeats of one 64 KiB pseudo-random block (xorshift).
    static let paddingBlock: ByteBuffer = {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var bytes = [UInt8](repeating: 0, count: 64 * 1024)
        for index in bytes.indices {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            bytes[index] = UInt8(truncatingIfNeeded: state >> 32)
        }
        return ByteBuffer(bytes: bytes)
    }()

    public struct Chunks: Sequence, Sendable {
        let head: ByteBuffer
        let total: Int64
        let range: Range<Int64>

        public func makeIterator() -> Iterator {
            Iterator(head: head, offset: range.lowerBound, end: range.upperBound)
        }

        public struct Iterator: IteratorProtocol {
            let head: ByteBuffer
            var offset: Int64
            let end: Int64

            public mutating func next() -> ByteBuffer? {
                guard offset < end else { return nil }
                let headCount = Int64(head.readableBytes)
                let chunk: ByteBuffer
                if offset < headCount {
                    let length = Int(Swift.min(end, headCount) - offset)
                    chunk = head.getSlice(at: head.readerIndex + Int(offset), length: length)!
                } else {
                    let block = SimulatedVideo.paddingBlock
                    let within = Int((offset - headCount) % Int64(block.readableBytes))
                    let length = Int(Swift.min(Int64(block.readableBytes - within), end - offset))
                    chunk = block.getSlice(at: block.readerIndex + within, length: length)!
                }
                offset += Int64(chunk.readableBytes)
                return chunk
            }
        }
    }

    // MARK: - Boxes

    private static func box(_ type: String, _ payload: [UInt8]) -> [UInt8] {
        u32(UInt32(8 + payload.count)) + Array(type.utf8) + payload
    }

    /// A full box: version and flags before the payload.
    private static func fullBox(_ type: String, version: UInt8 = 0, flags: UInt32 = 0, _ payload: [UInt8]) -> [UInt8] {
        box(type, [version] + Array(u32(flags).dropFirst()) + payload)
    }

    private static func u16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }
    private static func u32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) } }
    private static func u64(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) } }

    /// The identity transformation matrix of `mvhd` and `tkhd`.
    private static let matrix: [UInt8] = ([0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] as [UInt32]).flatMap { u32($0) }

    private static let width = 16
    private static let height = 16
    /// One frame of 1/25 s.
    private static let timescale: UInt32 = 25

    private static func ftyp() -> [UInt8] {
        box("ftyp", Array("isom".utf8) + u32(0x200) + Array("isomiso2avc1mp41".utf8))
    }

    private static func moov(sampleSize: Int, sampleOffset: Int) -> [UInt8] {
        let mvhd = fullBox(
            "mvhd",
            u32(0) + u32(0) + u32(timescale) + u32(1) + u32(0x0001_0000) + u16(0x0100) + [UInt8](repeating: 0, count: 10)
                + matrix + [UInt8](repeating: 0, count: 24) + u32(2)
        )
        let tkhd = fullBox(
            "tkhd",
            flags: 3,
            u32(0) + u32(0) + u32(1) + u32(0) + u32(1) + [UInt8](repeating: 0, count: 8) + u16(0) + u16(0) + u16(0)
                + u16(0) + matrix + u32(UInt32(width) << 16) + u32(UInt32(height) << 16)
        )
        // Language "und", packed as three 5-bit letters.
        let mdhd = fullBox("mdhd", u32(0) + u32(0) + u32(timescale) + u32(1) + u16(0x55C4) + u16(0))
        let hdlr = fullBox("hdlr", u32(0) + Array("vide".utf8) + [UInt8](repeating: 0, count: 12) + Array("VideoHandler\0".utf8))
        let vmhd = fullBox("vmhd", flags: 1, u16(0) + u16(0) + u16(0) + u16(0))
        let dinf = box("dinf", fullBox("dref", u32(1) + fullBox("url ", flags: 1, [])))
        let (sps, pps) = (H264.sequenceParameterSet(), H264.pictureParameterSet())
        let avcC = box(
            "avcC",
            [1, H264.profile, H264.constraints, H264.level, 0xFF, 0xE1] + u16(UInt16(sps.count)) + sps + [1]
                + u16(UInt16(pps.count)) + pps
        )
        let compressorName = [UInt8](repeating: 0, count: 32)
        let avc1 = box(
            "avc1",
            [UInt8](repeating: 0, count: 6) + u16(1) + u16(0) + u16(0) + [UInt8](repeating: 0, count: 12)
                + u16(UInt16(width)) + u16(UInt16(height)) + u32(0x0048_0000) + u32(0x0048_0000) + u32(0) + u16(1)
                + compressorName + u16(0x0018) + u16(0xFFFF) + avcC
        )
        let stbl = box(
            "stbl",
            fullBox("stsd", u32(1) + avc1)
                + fullBox("stts", u32(1) + u32(1) + u32(1))
                + fullBox("stss", u32(1) + u32(1))
                + fullBox("stsc", u32(1) + u32(1) + u32(1) + u32(1))
                + fullBox("stsz", u32(0) + u32(1) + u32(UInt32(sampleSize)))
                + fullBox("stco", u32(1) + u32(UInt32(sampleOffset)))
        )
        let minf = box("minf", vmhd + dinf + stbl)
        let mdia = box("mdia", mdhd + hdlr + minf)
        let trak = box("trak", tkhd + mdia)
        return box("moov", mvhd + trak)
    }

    /// The frame as an MP4 sample: the IDR slice NAL unit with a 4-byte length.
    private static func sample(color: (y: UInt8, cb: UInt8, cr: UInt8)) -> [UInt8] {
        let slice = H264.idrSlice(color: color)
        return u32(UInt32(slice.count)) + slice
    }

    /// A colour from the generation id (FNV-1a), each component in 32...223 so no sample is zero.
    private static func color(for generationID: String) -> (y: UInt8, cb: UInt8, cr: UInt8) {
        var hash: UInt32 = 0x811C_9DC5
        for byte in generationID.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 0x0100_0193
        }
        func component(_ shift: UInt32) -> UInt8 { 32 + UInt8(truncatingIfNeeded: (hash >> shift) % 192) }
        return (component(0), component(8), component(16))
    }
}

/// Just enough H.264 (ITU-T H.264 §7.3) for one 16×16 intra frame: SPS, PPS and an IDR slice with
/// a single I_PCM macroblock (raw samples, no transform or entropy coding to get right).
private enum H264 {
    static let profile: UInt8 = 66  // Baseline
    static let constraints: UInt8 = 0xC0  // constraint_set0 and set1: Constrained Baseline
    static let level: UInt8 = 10

    static func sequenceParameterSet() -> [UInt8] {
        var bits = BitWriter()
        bits.write(UInt32(profile), count: 8)
        bits.write(UInt32(constraints), count: 8)
        bits.write(UInt32(level), count: 8)
        bits.unsigned(0)  // seq_parameter_set_id
        bits.unsigned(0)  // log2_max_frame_num_minus4
        bits.unsigned(2)  // pic_order_cnt_type
        bits.unsigned(1)  // max_num_ref_frames
        bits.write(0, count: 1)  // gaps_in_frame_num_value_allowed_flag
        bits.unsigned(0)  // pic_width_in_mbs_minus1
        bits.unsigned(0)  // pic_height_in_map_units_minus1
        bits.write(1, count: 1)  // frame_mbs_only_flag
        bits.write(1, count: 1)  // direct_8x8_inference_flag
        bits.write(0, count: 1)  // frame_cropping_flag
        bits.write(0, count: 1)  // vui_parameters_present_flag
        bits.trailingBits()
        return nalUnit(type: 7, payload: bits.bytes)
    }

    static func pictureParameterSet() -> [UInt8] {
        var bits = BitWriter()
        bits.unsigned(0)  // pic_parameter_set_id
        bits.unsigned(0)  // seq_parameter_set_id
        bits.write(0, count: 1)  // entropy_coding_mode_flag (CAVLC)
        bits.write(0, count: 1)  // bottom_field_pic_order_in_frame_present_flag
        bits.unsigned(0)  // num_slice_groups_minus1
        bits.unsigned(0)  // num_ref_idx_l0_default_active_minus1
        bits.unsigned(0)  // num_ref_idx_l1_default_active_minus1
        bits.write(0, count: 1)  // weighted_pred_flag
        bits.write(0, count: 2)  // weighted_bipred_idc
        bits.signed(0)  // pic_init_qp_minus26
        bits.signed(0)  // pic_init_qs_minus26
        bits.signed(0)  // chroma_qp_index_offset
        bits.write(1, count: 1)  // deblocking_filter_control_present_flag
        bits.write(0, count: 1)  // constrained_intra_pred_flag
        bits.write(0, count: 1)  // redundant_pic_cnt_present_flag
        bits.trailingBits()
        return nalUnit(type: 8, payload: bits.bytes)
    }

    static func idrSlice(color: (y: UInt8, cb: UInt8, cr: UInt8)) -> [UInt8] {
        var bits = BitWriter()
        // slice_header
        bits.unsigned(0)  // first_mb_in_slice
        bits.unsigned(7)  // slice_type: I (all slices of the picture)
        bits.unsigned(0)  // pic_parameter_set_id
        bits.write(0, count: 4)  // frame_num (log2_max_frame_num = 4)
        bits.unsigned(0)  // idr_pic_id
        bits.write(0, count: 1)  // no_output_of_prior_pics_flag
        bits.write(0, count: 1)  // long_term_reference_flag
        bits.signed(0)  // slice_qp_delta
        bits.unsigned(1)  // disable_deblocking_filter_idc
        // slice_data: one macroblock
        bits.unsigned(25)  // mb_type: I_PCM
        bits.alignWithZeros()  // pcm_alignment_zero_bit
        for _ in 0..<256 { bits.write(UInt32(color.y), count: 8) }
        for _ in 0..<64 { bits.write(UInt32(color.cb), count: 8) }
        for _ in 0..<64 { bits.write(UInt32(color.cr), count: 8) }
        bits.trailingBits()  // rbsp_slice_trailing_bits
        return nalUnit(type: 5, payload: bits.bytes)
    }

    /// A NAL unit (nal_ref_idc 3) with emulation prevention: no `00 00 0x` (x ≤ 3) in the payload.
    static func nalUnit(type: UInt8, payload: [UInt8]) -> [UInt8] {
        var output: [UInt8] = [0x60 | type]
        var zeros = 0
        for byte in payload {
            if zeros >= 2, byte <= 3 {
                output.append(3)
                zeros = 0
            }
            output.append(byte)
            zeros = byte == 0 ? zeros + 1 : 0
        }
        return output
    }
}

/// Writes an RBSP most significant bit first, with Exp-Golomb codes.
private struct BitWriter {
    private(set) var bytes: [UInt8] = []
    private var current: UInt8 = 0
    private var used = 0

    mutating func write(_ value: UInt32, count: Int) {
        for shift in stride(from: count - 1, through: 0, by: -1) {
            current = current << 1 | UInt8((value >> UInt32(shift)) & 1)
            used += 1
            if used == 8 {
                bytes.append(current)
                current = 0
                used = 0
            }
        }
    }

    /// ue(v)
    mutating func unsigned(_ value: UInt32) {
        let coded = value + 1
        let length = 32 - coded.leadingZeroBitCount
        write(0, count: length - 1)
        write(coded, count: length)
    }

    /// se(v)
    mutating func signed(_ value: Int32) {
        unsigned(value > 0 ? UInt32(2 * value - 1) : UInt32(-2 * value))
    }

    mutating func alignWithZeros() {
        while used != 0 { write(0, count: 1) }
    }

    /// rbsp_trailing_bits: a one, then zeros to the byte boundary.
    mutating func trailingBits() {
        write(1, count: 1)
        alignWithZeros()
    }
}
