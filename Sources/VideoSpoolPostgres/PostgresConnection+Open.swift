import Logging
import PostgresNIO

/// Queries that refuse a closed connection instead of waiting forever.
///
/// postgres-nio writes a query to the connection's channel without a write promise; once the
/// channel has closed (the server restarted, say), the write fails unseen and the query's own
/// promise is never completed, so its caller would wait for good. Seen in the failover test: the
/// ROLLBACK after a query failed on a terminated session hung the group commit's leader, and with it
/// every commit of the daemon. A closed connection is refused here, as an unavailable database.
extension PostgresConnection {
    /// ``PostgresConnection/query(_:logger:file:line:)`` on a connection that is still open.
    @discardableResult
    func openQuery(_ query: PostgresQuery, logger: Logger) async throws -> PostgresRowSequence {
        try requireOpen()
        return try await self.query(query, logger: logger)
    }

    /// Runs `query` on a connection that is still open; the number of rows it affected.
    func openExecute(_ query: PostgresQuery, logger: Logger) async throws -> Int {
        try requireOpen()
        let future: EventLoopFuture<PostgresQueryResult> = self.query(query, logger: logger)
        return try await future.get().metadata.rows ?? 0
    }

    func requireOpen() throws {
        if isClosed { throw PostgresStoreError.connectionFailed("the connection to the database closed") }
    }
}
