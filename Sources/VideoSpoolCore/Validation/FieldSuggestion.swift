/// Finds the known field name a misspelt one was probably meant to be.
public enum FieldSuggestion {
    /// The closest of `candidates` to `name`, if it is close enough to be a plausible typo.
    public static func nearest(to name: String, among candidates: [String]) -> String? {
        let normalizedName = normalize(name)
        var best: (candidate: String, distance: Int)?
        for candidate in candidates {
            let distance = editDistance(normalizedName, normalize(candidate))
            if best == nil || distance < best!.distance {
                best = (candidate, distance)
            }
        }
        guard let best else { return nil }
        let tolerance = max(2, normalizedName.count / 3)
        if best.distance <= tolerance { return best.candidate }
        // "callback" for "callback_url": a clear prefix is a good hint too.
        let prefixMatch = candidates.first { normalize($0).starts(with: normalizedName) && normalizedName.count >= 4 }
        return prefixMatch
    }

    /// Case and separators do not count as typos: `imageUrl` and `image-url` mean `image_url`.
    private static func normalize(_ name: String) -> [Character] {
        Array(name.lowercased().filter { $0 != "_" && $0 != "-" })
    }

    /// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previousPrevious = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], previousPrevious[j - 2] + 1)
                }
            }
            (previousPrevious, previous, current) = (previous, current, previousPrevious)
        }
        return previous[b.count]
    }
}
