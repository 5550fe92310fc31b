import Foundation
import Logging
import ServiceLifecycle
import VideoSpoolCore
import VideoSpoolFileSystem
import VideoSpoolPostgres
import VideoSpoolRuntime

/// The daemon on a shared store (`state.backend: postgresql`): the store's connections run for
/// the daemon's whole life, the daemon waits for the database at start, registers, and keeps its
/// lease with ``OwnershipService``. With SQLite all of this does nothing.
extension Daemon {
    /// Runs `body` with the shared store's connection pool running (started first, stopped last).
    func withStoreRunning<Result: Sendable>(_ body: () async throws -> Result) async throws -> Result {
        guard let sharedStore else { return try await body() }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await sharedStore.run() }
            defer { group.cancelAll() }
            return try await body()
        }
    }

    /// Waits for the database (telling systemd it needs more time), migrates its schema and
    /// registers this daemon, releasing at once the jobs of its previous run.
    func register() async throws {
        guard let sharedStore else { return }
        var delay = Duration.milliseconds(250)
        var waiting = false
        while true {
            do {
                try await sharedStore.migrate()
                break
            } catch where PostgresJobStore.isUnavailable(error) {
                notifier.notify([
                    .extendTimeout(.seconds(30)), .status("starting: waiting for the database: \(error)"),
                ])
                if !waiting {
                    waiting = true
                    logger.error(
                        "The database is unavailable; start-up waits until it answers",
                        metadata: ["event": "database.unavailable", "error": "\(error)"]
                    )
                }
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
        if waiting {
            logger.notice("The database answers again", metadata: ["event": "database.recovered"])
        }
        let previous = InstanceIDFile.read(stateDirectory: settings.stateDirectory).map(InstanceID.init)
        let sentAt = pipeline.context.ownership.now()
        let registration = try await sharedStore.register(instance, replacing: previous)
        pipeline.context.ownership.registered(registration, sentAt: sentAt)
        InstanceIDFile.write(registration.id.rawValue, stateDirectory: settings.stateDirectory)
        logger.notice(
            "Registered with the shared job store",
            metadata: [
                "event": "lease.registered", "instance": "\(registration.id)",
                "store.database": "\(sharedStore.configuration)",
            ]
        )
        for released in registration.replaced where released.jobs > 0 {
            logger.notice(
                "Jobs taken over from a daemon whose lease ran out",
                metadata: [
                    "event": "jobs.taken_over", "instance.released": "\(released.id)",
                    "instance.host": "\(released.host)", "instance.pid": "\(released.pid)", "jobs": "\(released.jobs)",
                ]
            )
        }
    }

    /// The lease keeper, on a shared store.
    var sharedStoreServices: [any Service] {
        guard let sharedStore else { return [] }
        let control = JobControl(
            pipeline: pipeline,
            spool: spool,
            videos: controlStorage.videos,
            objects: controlStorage.objects
        )
        let stateDirectory = settings.stateDirectory
        let logger = self.logger
        return [
            OwnershipService(
                store: sharedStore,
                ownership: pipeline.context.ownership,
                pipeline: pipeline,
                instance: instance,
                configuration: OwnershipService.Configuration(
                    renewalInterval: sharedStore.configuration.heartbeatInterval,
                    reaperInterval: sharedStore.configuration.reaperInterval,
                    claimInterval: sharedStore.configuration.claimInterval
                ),
                logger: logger,
                applyCancel: { id in
                    do {
                        _ = try await control.cancel(id)
                    } catch {
                        logger.warning(
                            "A cancel asked from another host could not be carried out",
                            metadata: ["job.id": "\(id)", "error": "\(error)"]
                        )
                    }
                },
                onRegistered: { id in InstanceIDFile.write(id.rawValue, stateDirectory: stateDirectory) }
            )
        ]
    }

    /// The status line, with the shared store and this daemon's lease on it.
    static func status(of pipeline: Pipeline, sharedStore: PostgresJobStore?) -> PipelineCounters.Snapshot {
        var status = pipeline.status
        let ownership = pipeline.context.ownership
        if sharedStore != nil {
            if ownership.isLost { status.leaseLost = "registering again" }
            if status.storeUnavailable == nil, let unreachable = ownership.unreachable {
                status.storeUnavailable = unreachable
            }
            status.sharedStore = "postgresql: instance \(ownership.instance.rawValue.prefix(8))"
                + (ownership.isLost ? "" : ", lease held")
        }
        return status
    }
}
