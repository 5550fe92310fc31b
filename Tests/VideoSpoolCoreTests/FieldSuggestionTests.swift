import Testing

@testable import VideoSpoolCore

struct FieldSuggestionTests {
    private let known = ModelSchema.seedance20Mini.fields.map(\.name) + RequestValidator.daemonKeys

    @Test(arguments: [
        ("promt", "prompt"),
        ("prompts", "prompt"),
        ("pormpt", "prompt"),
        ("imageUrl", "image_url"),
        ("image-url", "image_url"),
        ("IMAGE_URL", "image_url"),
        ("imageurls", "image_urls"),
        ("lastImageUrl", "last_image_url"),
        ("aspect", "aspect_ratio"),
        ("resolutoin", "resolution"),
        ("generateAudio", "generate_audio"),
        ("callback", "callback_url"),
        ("metdata", "metadata"),
        ("jobid", "job_id"),
        ("prmt", "prompt"),
        ("wtermak", "watermark"),
    ])
    func aPlausibleTypoFindsTheIntendedField(typo: String, intended: String) {
        #expect(FieldSuggestion.nearest(to: typo, among: known) == intended)
    }

    @Test(arguments: ["xyzzy", "completely_unrelated", "temperature", "a", "", "prxyzt"])
    func anUnrelatedNameHasNoSuggestion(name: String) {
        #expect(FieldSuggestion.nearest(to: name, among: known) == nil)
    }

    @Test func noCandidatesMeansNoSuggestion() {
        #expect(FieldSuggestion.nearest(to: "prompt", among: []) == nil)
    }

    @Test func theFirstOfEquallyCloseCandidatesWins() {
        #expect(FieldSuggestion.nearest(to: "cat", among: ["bat", "cut"]) == "bat")
    }

    @Test(arguments: [
        ("", "", 0),
        ("abc", "", 3),
        ("", "abc", 3),
        ("abc", "abc", 0),
        ("kitten", "sitting", 3),
        ("flaw", "lawn", 2),
        ("ab", "ba", 1),
        ("abcd", "acbd", 1),
        ("ca", "abc", 3),
        ("prompt", "promt", 1),
        ("prompt", "pormpt", 1),
    ])
    func editDistanceCountsEditsAndAdjacentTranspositions(a: String, b: String, distance: Int) {
        #expect(FieldSuggestion.editDistance(Array(a), Array(b)) == distance)
        #expect(FieldSuggestion.editDistance(Array(b), Array(a)) == distance, "the distance is symmetric")
    }
}
