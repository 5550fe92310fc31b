import PostgresNIO
import Testing

@testable import VideoSpoolPostgres

/// Statements written for many rows: their placeholders, and how rows are split so that no
/// statement binds more values than PostgreSQL takes.
struct BoundValuesTests {
    @Test func placeholdersAreNumberedInBindOrderAndCast() {
        var v = BoundValues()
        let name = v("x", "text")
        let missing = v(Int64?.none, "bigint")
        #expect(name == "$1::text" && missing == "$2::bigint")
        #expect(v.bindings.count == 2)
        #expect(BoundValues.row([name, missing]) == "($1::text, $2::bigint)")
    }

    @Test func runsStayUnderTheLimitAndARowOverItGoesAlone() {
        let values = [3, 4, 2, 9, 1, 1]
        #expect(values.runs(ofAtMost: 7, values: { $0 }).map(Array.init) == [[3, 4], [2], [9], [1, 1]])
        #expect([Int]().runs(ofAtMost: 7, values: { $0 }).isEmpty)
        #expect(Array(0..<5).runs(of: 2).map(Array.init) == [[0, 1], [2, 3], [4]])
    }
}
