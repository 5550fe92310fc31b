import ServiceLifecycle
import VideoSpoolCore
import VideoSpoolFileSystem
import VideoSpoolRuntime

extension Daemon {
    /// The control socket for `videospool cancel|retry|redeliver|prune`, and the hourly pruning of
    /// finished jobs (`state.retention_days`). `serviceGroup` lists them before the pipeline, so they
    /// start before it and stop after it.
    var operatorServices: [any Service] {
        let control = JobControl(
            pipeline: pipeline,
            spool: spool,
            videos: controlStorage.videos,
            objects: controlStorage.objects
        )
        let reloading = self.reloading
        return [
            ControlService(
                path: ControlClient.socketPath(stateDirectory: settings.stateDirectory),
                control: control,
                logger: logger
            ),
            RetentionService(control: control, time: pipeline.context.time, logger: logger) {
                let days = reloading.current.retentionDays
                return days == 0 ? nil : .seconds(Int64(days) * 86400)
            },
        ]
    }
}
