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
            """,
        version: Daemon.version,
        subcommands: [
            Run.self, CheckConfig.self, Simulate.self, Demo.self,
            List.self, Show.self, Cancel.self, Retry.self, Redeliver.self, Prune.self,
        ],
        defaultSubcommand: Run.self
    )
}
