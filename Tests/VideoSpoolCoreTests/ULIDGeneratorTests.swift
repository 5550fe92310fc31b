import Testing

@testable import VideoSpoolCore

private let crockford = Set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")

/// The 48-bit millisecond time encoded in a ULID's first ten characters.
private func decodedTime(_ ulid: String) -> UInt64 {
    let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
    return ulid.prefix(10).reduce(0) { $0 * 32 + UInt64(alphabet.firstIndex(of: $1)!) }
}

struct ULIDGeneratorTests {
    @Test func anIDIs26CrockfordCharacters() {
        var generator = ULIDGenerator()
        var random = SplitMix64(seed: 1)
        for offset in 0..<200 {
            let id = generator.next(at: referenceTime + .milliseconds(Int64(offset * 7)), using: &random)
            #expect(id.count == 26)
            #expect(id.allSatisfy { crockford.contains($0) }, "\(id)")
            #expect(!id.contains { "ILOU".contains($0) })
        }
    }

    @Test func theFirstTenCharactersEncodeTheTime() {
        var generator = ULIDGenerator()
        var random = SplitMix64(seed: 2)
        let id = generator.next(at: referenceTime, using: &random)
        #expect(decodedTime(id) == UInt64(referenceTime.millisecondsSinceEpoch))
    }

    @Test func theSpecExampleTimeEncodes() {
        #expect(ULIDGenerator.encode(milliseconds: 1_469_918_176_385, high: 0, low: 0).hasPrefix("01ARYZ6S41"))
        #expect(ULIDGenerator.encode(milliseconds: 0, high: 0, low: 0) == "00000000000000000000000000")
        #expect(ULIDGenerator.encode(milliseconds: (1 << 48) - 1, high: .max, low: .max) == "7ZZZZZZZZZZZZZZZZZZZZZZZZZ")
    }

    @Test func theRandomPartEncodesAllEightyBits() {
        #expect(ULIDGenerator.encode(milliseconds: 0, high: 0, low: 1).suffix(16) == "0000000000000001")
        #expect(ULIDGenerator.encode(milliseconds: 0, high: 1, low: 0).suffix(16) == "000G000000000000")
        #expect(ULIDGenerator.encode(milliseconds: 0, high: 0, low: .max).suffix(16) == "000FZZZZZZZZZZZZ")
    }

    @Test func idsFromOneMillisecondStrictlyIncrease() {
        var generator = ULIDGenerator()
        var random = SplitMix64(seed: 3)
        var previous = generator.next(at: referenceTime, using: &random)
        for _ in 0..<10_000 {
            let id = generator.next(at: referenceTime, using: &random)
            #expect(id > previous, "\(id) <= \(previous)")
            #expect(id.prefix(10) == previous.prefix(10))
            previous = id
        }
    }

    @Test func idsSortByTime() {
        var generator = ULIDGenerator()
        var random = SplitMix64(seed: 4)
        var ids: [String] = []
        var clock = referenceTime
        for step in 0..<500 {
            clock = clock + .milliseconds(Int64(1 + step % 3))
            ids.append(generator.next(at: clock, using: &random))
        }
        #expect(ids == ids.sorted())
        #expect(Set(ids).count == ids.count)
    }

    @Test func idsStillIncreaseWhenTheClockGoesBack() {
        var generator = ULIDGenerator()
        var random = SplitMix64(seed: 5)
        let first = generator.next(at: referenceTime, using: &random)
        let second = generator.next(at: referenceTime - .seconds(10), using: &random)
        #expect(second > first)
        #expect(decodedTime(second) == UInt64(referenceTime.millisecondsSinceEpoch))
    }

    @Test func theSameSeedGivesTheSameIDs() {
        var a = ULIDGenerator()
        var b = ULIDGenerator()
        var randomA = SplitMix64(seed: 6)
        var randomB = SplitMix64(seed: 6)
        for offset in 0..<20 {
            let at = referenceTime + .milliseconds(Int64(offset / 4))
            #expect(a.next(at: at, using: &randomA) == b.next(at: at, using: &randomB))
        }
    }

    @Test func differentSeedsGiveDifferentIDs() {
        var a = ULIDGenerator()
        var b = ULIDGenerator()
        var randomA = SplitMix64(seed: 7)
        var randomB = SplitMix64(seed: 8)
        #expect(a.next(at: referenceTime, using: &randomA) != b.next(at: referenceTime, using: &randomB))
    }

    @Test func aTimeBeforeTheEpochIsClampedToZero() {
        var generator = ULIDGenerator()
        var random = SplitMix64(seed: 9)
        let id = generator.next(at: Timestamp(millisecondsSinceEpoch: -5), using: &random)
        #expect(id.hasPrefix("0000000000"))
    }
}
