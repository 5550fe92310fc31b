import PostgresNIO

/// The bound values of a statement written for many rows (`VALUES ($1::text, $2::bigint), …`).
/// Each placeholder is cast to its column's type: postgres-nio sends a NULL without a type, and a
/// `VALUES` list in a `WITH` has no table to take one from.
struct BoundValues {
    private(set) var bindings = PostgresBindings()

    /// Binds `value` and returns its placeholder, cast to `type`.
    mutating func callAsFunction<Value: PostgresDynamicTypeEncodable>(_ value: Value?, _ type: String) -> String {
        bindings.append(value)
        return "$\(bindings.count)::\(type)"
    }

    /// `(…, …)`: one row of placeholders.
    static func row(_ placeholders: [String]) -> String {
        "(" + placeholders.joined(separator: ", ") + ")"
    }
}

extension Array {
    /// The elements in runs of at most `size`: a statement takes at most 65,535 bound values.
    func runs(of size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }

    /// The elements in runs whose `values` add up to at most `limit` (an element over it alone):
    /// for rows that bind a varying number of values.
    func runs(ofAtMost limit: Int, values: (Element) -> Int) -> [ArraySlice<Element>] {
        var runs: [ArraySlice<Element>] = []
        var start = startIndex
        var total = 0
        for index in indices {
            let weight = values(self[index])
            if index > start, total + weight > limit {
                runs.append(self[start..<index])
                start = index
                total = 0
            }
            total += weight
        }
        if start < endIndex { runs.append(self[start...]) }
        return runs
    }
}
