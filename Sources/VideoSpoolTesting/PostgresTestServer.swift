#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// A throwaway PostgreSQL cluster for tests: a copy of a cluster `initdb` made once, in a temporary
/// directory (in memory where possible), started with
/// `pg_ctl` on a Unix socket in that directory (optionally also on 127.0.0.1 and a free port), no
/// fsync, trust for the `postgres` role and passwords for every other role.
///
/// One cluster per test process is shared (``shared()``, started on first use) and each test makes
/// its own database (``createDatabase()``), so tests are independent; a test that stops and starts
/// its server starts a private one (``start(tcp:)``). Clusters stop when the process exits, or soon
/// after if it dies (a watchdog process removes them).
///
/// Debian's server binaries (`/usr/lib/postgresql/<version>/bin`, package `postgresql`) are found
/// on their own; `VIDEOSPOOL_POSTGRES_BIN` names another directory. As root, the cluster runs as
/// the `postgres` user (`initdb` refuses root). Without the binaries, starting fails with a message
/// saying what to install; `VIDEOSPOOL_SKIP_POSTGRES_TESTS=1` skips the tests instead
/// (``skipRequested``).
public final class PostgresTestServer: Sendable {
    /// The directory that holds the data directory and the socket.
    public let directory: String
    /// The Unix socket file (`<directory>/.s.PGSQL.<port>`).
    public let socketPath: String
    public let port: Int
    /// Whether the server also listens on 127.0.0.1:`port`.
    public let tcp: Bool
    /// Whether commits reach the disk (``start(tcp:durable:)``).
    public let durable: Bool
    /// How long `initdb` plus `pg_ctl start` took.
    public let startDuration: Duration
    private let binaries: String
    private let runAs: String?
    private let databases = Mutex(0)

    /// The superuser, trusted without a password on the socket and on 127.0.0.1.
    public static let superuser = "postgres"

    public static var skipRequested: Bool {
        ProcessInfo.processInfo.environment["VIDEOSPOOL_SKIP_POSTGRES_TESTS"] == "1"
    }

    private static let sharedServer = SharedServer()

    /// The process's shared cluster (socket and TCP), started on first use.
    public static func shared() async throws -> PostgresTestServer {
        try await sharedServer.get()
    }

    /// A private cluster, for a test that stops and starts it. A `durable` one keeps PostgreSQL's
    /// defaults (fsync, synchronous commit, full pages) on the disk (`/tmp`), for the benchmark to
    /// compare with SQLite's durable commits; the others trade durability for speed.
    public static func start(tcp: Bool = false, durable: Bool = false) throws -> PostgresTestServer {
        try PostgresTestServer(tcp: tcp, durable: durable)
    }

    private init(tcp: Bool, durable: Bool) throws {
        let started = ContinuousClock.now
        let binaries = try Self.findBinaries()
        let runAs = geteuid() == 0 ? Self.superuser : nil
        let directory = try Self.makeDirectory(owner: runAs, base: durable ? "/tmp" : Self.baseDirectory)
        let port = tcp ? try Self.freePort() : 5432
        Self.cleanUp.withLock { $0.append((binaries, directory, runAs)) }
        Self.installExitHandler()
        try Self.startWatchdog(directory: directory, binaries: binaries, runAs: runAs)

        // initdb is most of a cold start: copy a cluster initialized once instead.
        let template = try Self.template(binaries: binaries, runAs: runAs)
        try Self.run("/bin/cp", ["-a", template, directory + "/data"], runAs: runAs)
        // Trust for the superuser (the tests' setup), passwords for everyone else (the secrets tests).
        let hba = """
            local all \(Self.superuser) trust
            local all all scram-sha-256
            host all \(Self.superuser) 127.0.0.1/32 trust
            host all all 127.0.0.1/32 scram-sha-256

            """
        try hba.write(toFile: directory + "/data/pg_hba.conf", atomically: false, encoding: .utf8)
        try Self.start(binaries: binaries, directory: directory, port: port, tcp: tcp, durable: durable, runAs: runAs)

        self.binaries = binaries
        self.runAs = runAs
        self.directory = directory
        self.port = port
        self.tcp = tcp
        self.durable = durable
        self.socketPath = directory + "/.s.PGSQL.\(port)"
        self.startDuration = ContinuousClock.now - started
    }

    private var dataDirectory: String { directory + "/data" }

    /// Starts the server (again, after ``stop()``); returns once it accepts connections.
    public func start() throws {
        try Self.start(binaries: binaries, directory: directory, port: port, tcp: tcp, durable: durable, runAs: runAs)
    }

    private static func start(binaries: String, directory: String, port: Int, tcp: Bool, durable: Bool, runAs: String?) throws {
        let listen = tcp ? "127.0.0.1" : "''"
        let speed = durable ? [] : ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        let options = (
            ["-k \(directory)", "-p \(port)", "-c listen_addresses=\(listen)"] + speed
                + ["-c max_connections=400", "-c shared_buffers=32MB", "-c log_min_messages=warning"]
        ).joined(separator: " ")
        try run(
            binaries + "/pg_ctl",
            ["start", "-w", "-t", "60", "-D", directory + "/data", "-l", directory + "/server.log", "-o", options],
            runAs: runAs
        )
    }

    /// Stops the server (`-m fast`: sessions are ended, as an administrator's restart would).
    public func stop() throws {
        try run("pg_ctl", ["stop", "-w", "-t", "60", "-m", "fast", "-D", dataDirectory])
    }

    /// A new, empty database; its name.
    public func createDatabase() throws -> String {
        let number = databases.withLock { count in
            count += 1
            return count
        }
        let name = "test_\(getpid())_\(number)"
        try run("createdb", ["-h", directory, "-p", "\(port)", "-U", Self.superuser, "-T", "template0", name])
        return name
    }

    /// Runs SQL as the superuser with psql (setup the store's own API does not offer).
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") throws -> String {
        try run(
            "psql",
            ["-h", directory, "-p", "\(port)", "-U", Self.superuser, "-d", database, "-v", "ON_ERROR_STOP=1", "-qAtX",
                "-c", sql]
        )
    }

    // MARK: - Processes

    @discardableResult
    private func run(_ tool: String, _ arguments: [String]) throws -> String {
        try Self.run(binaries + "/" + tool, arguments, runAs: runAs)
    }

    @discardableResult
    private static func run(_ executable: String, _ arguments: [String], runAs: String?) throws -> String {
        let argv = runAs.map { ["/usr/sbin/runuser", "-u", $0, "--", executable] } ?? [executable]
        // Output goes to a file, not a pipe: `pg_ctl start` leaves a server running that may hold
        // an inherited descriptor, and a pipe would then never reach its end.
        let outputPath = NSTemporaryDirectory() + "videospool-pg-output-\(getpid())-\(UUID().uuidString)"
        defer { unlink(outputPath) }
        let status = try spawn(argv + arguments, output: outputPath, wait: true)
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        guard status == 0 else {
            throw PostgresTestServerError(
                "\((executable as NSString).lastPathComponent) \(arguments.joined(separator: " ")) exited with "
                    + "\(status): \(text)"
            )
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// posix_spawn, stdin from /dev/null, stdout and stderr to `output`; the exit status when
    /// `wait`ing. (Foundation's Process sometimes never saw `pg_ctl` exit.)
    @discardableResult
    private static func spawn(_ argv: [String], output: String, wait: Bool) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let cArguments = argv.map { strdup($0) } + [nil]
        defer { for argument in cArguments { free(argument) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, argv[0], &actions, nil, cArguments, environ)
        guard spawned == 0 else {
            throw PostgresTestServerError("cannot run \(argv[0]): \(String(cString: strerror(spawned)))")
        }
        guard wait else { return 0 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw PostgresTestServerError("waitpid: \(String(cString: strerror(errno)))") }
        }
        // WIFEXITED / WEXITSTATUS, spelled out (macros are not imported).
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// Where clusters live: memory (`/dev/shm`) when there is, which makes copying the template and
    /// starting a few times faster than on a busy disk; else `/tmp`.
    private static let baseDirectory: String = {
        var stats = statvfs()
        guard access("/dev/shm", W_OK | X_OK) == 0, statvfs("/dev/shm", &stats) == 0 else { return "/tmp" }
        // A container's small default /dev/shm (64 MB) would fill up.
        let free = UInt64(stats.f_bavail) * UInt64(stats.f_frsize)
        return free >= 1 << 30 ? "/dev/shm" : "/tmp"
    }()

    /// A freshly initialized data directory for these binaries (1 MB WAL segments: less to copy),
    /// made once per machine and user next to the clusters, and copied for each cluster.
    private static func template(binaries: String, runAs: String?) throws -> String {
        let version = (binaries as NSString).deletingLastPathComponent.split(separator: "/").last.map(String.init) ?? "x"
        let path = baseDirectory + "/videospool-pg-template-\(version)-\(runAs ?? String(geteuid()))"
        if FileManager.default.fileExists(atPath: path + "/PG_VERSION") { return path }
        let staging = try makeDirectory(owner: runAs, base: baseDirectory)
        defer { try? FileManager.default.removeItem(atPath: staging) }
        try run(
            binaries + "/initdb",
            ["-D", staging + "/data", "-U", superuser, "--auth=trust", "--no-sync", "--no-instructions", "-E", "UTF8",
                "--locale=C", "--wal-segsize=1"],
            runAs: runAs
        )
        // Another test process may have made it meanwhile: the first rename wins.
        if rename(staging + "/data", path) != 0, !FileManager.default.fileExists(atPath: path + "/PG_VERSION") {
            throw PostgresTestServerError("cannot keep the cluster template at \(path): \(String(cString: strerror(errno)))")
        }
        return path
    }

    private static func findBinaries() throws -> String {
        try locateBinaries(environment: ProcessInfo.processInfo.environment)
    }

    /// The directory with `initdb` and `pg_ctl`: `VIDEOSPOOL_POSTGRES_BIN`, else the newest
    /// `<root>/<version>/bin`; an error saying what to install when there is none.
    public static func locateBinaries(environment: [String: String], root: String = "/usr/lib/postgresql") throws -> String {
        let fileManager = FileManager.default
        if let configured = environment["VIDEOSPOOL_POSTGRES_BIN"] {
            guard fileManager.isExecutableFile(atPath: configured + "/initdb") else {
                throw PostgresTestServerError("VIDEOSPOOL_POSTGRES_BIN=\(configured) has no initdb")
            }
            return configured
        }
        let versions = ((try? fileManager.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted(by: >)
        for version in versions where fileManager.isExecutableFile(atPath: "\(root)/\(version)/bin/initdb") {
            return "\(root)/\(version)/bin"
        }
        throw PostgresTestServerError(
            "the PostgreSQL store tests need a PostgreSQL server: no \(root)/<version>/bin/initdb. Install Debian's "
                + "'postgresql' package (`make deps` does), set VIDEOSPOOL_POSTGRES_BIN to a directory with initdb and "
                + "pg_ctl, or set VIDEOSPOOL_SKIP_POSTGRES_TESTS=1 to skip these tests"
        )
    }

    private static func makeDirectory(owner: String?, base: String) throws -> String {
        var template = Array((base + "/videospool-pg.XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer in mkdtemp(buffer.baseAddress!) != nil }
        guard made else { throw PostgresTestServerError("cannot make a temporary directory: \(String(cString: strerror(errno)))") }
        let path = template.withUnsafeBufferPointer { buffer in String(cString: buffer.baseAddress!) }
        if let owner {
            guard let entry = getpwnam(owner) else {
                throw PostgresTestServerError("running as root, but there is no '\(owner)' user to run the server as")
            }
            guard chown(path, entry.pointee.pw_uid, entry.pointee.pw_gid) == 0 else {
                throw PostgresTestServerError("cannot chown \(path) to \(owner): \(String(cString: strerror(errno)))")
            }
        }
        return path
    }

    /// A TCP port on 127.0.0.1 that nothing listens on right now.
    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw PostgresTestServerError("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw PostgresTestServerError("bind: \(String(cString: strerror(errno)))") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    // MARK: - Clean-up

    private static let cleanUp = Mutex<[(binaries: String, directory: String, runAs: String?)]>([])
    private static let exitHandlerInstalled = Mutex(false)

    private static func installExitHandler() {
        let first = exitHandlerInstalled.withLock { installed in
            defer { installed = true }
            return !installed
        }
        if first { atexit { PostgresTestServer.stopAll() } }
    }

    private static func stopAll() {
        for cluster in cleanUp.withLock({ $0 }) {
            _ = try? run(
                cluster.binaries + "/pg_ctl",
                ["stop", "-m", "immediate", "-D", cluster.directory + "/data"],
                runAs: cluster.runAs
            )
            try? FileManager.default.removeItem(atPath: cluster.directory)
        }
    }

    /// A detached shell that stops the cluster and removes its directory once this process is gone
    /// (a crashed or killed test run leaves no server behind). A zombie counts as gone: `swift test`
    /// reaps the test process only after every holder of its output has let go of it.
    private static func startWatchdog(directory: String, binaries: String, runAs: String?) throws {
        let stop = (runAs.map { "/usr/sbin/runuser -u \($0) -- " } ?? "") + "\(binaries)/pg_ctl stop -m immediate -D '\(directory)/data'"
        let script = """
            while [ -e /proc/\(getpid()) ] && [ "$(cut -d' ' -f3 /proc/\(getpid())/stat 2>/dev/null)" != Z ]; do sleep 1; done
            \(stop) >/dev/null 2>&1
            rm -rf '\(directory)'
            """
        try spawn(["/usr/bin/setsid", "/bin/sh", "-c", script], output: "/dev/null", wait: false)
    }
}

/// Starts the shared cluster once, however many tests ask at the same time.
private actor SharedServer {
    private var server: Result<PostgresTestServer, any Error>?

    func get() throws -> PostgresTestServer {
        if let server { return try server.get() }
        let result = Result { try PostgresTestServer.start(tcp: true) }
        server = result
        return try result.get()
    }
}

public struct PostgresTestServerError: Error, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
