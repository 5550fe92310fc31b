import ArgumentParser
import VideoSpoolApp

@main
struct VideoSpool: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "videospool",
        abstract: "Turns JSON request files into AI/ML API video generations and signed completion webhooks.",
        discussion: """
            Drop a request file into the spool's incoming/ directory; the daemon submits it to \
            POST /v2/video/generations, polls until the video is ready, and POSTs a Standard Webhooks \
            signed payload to the request's callback URLs. Results also land in done/ and failed/.

            From a shell: `videospool validate FILE…` checks requests with the daemon's rules; \
            `videospool submit FILE|-` checks one and drops it into incoming/, printing its job id, and \
            with --wait follows it to its outcome. `list`, `show`, `cancel`, `retry`, `redeliver` and \
            `prune` inspect and manage jobs, through the running daemon or the store; `models` lists the \
            models requests may use. See videospool(8).
            """,
        version: Daemon.version,
        subcommands: [
            Run.self, CheckConfig.self, Submit.self, Validate.self, Models.self,
            List.self, Show.self, UsageCommand.self, Fetch.self, Cancel.self, Retry.self, Redeliver.self, Prune.self,
            Simulate.self, Demo.self,
        ],
        defaultSubcommand: Run.self
    )
}
