import ArgumentParser

/// Options shared by the commands that read the configuration file.
struct ConfigOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Configuration file (YAML).",
            discussion: "Defaults to /etc/videospool/videospool.yaml; if that file does not exist, every setting has its default.",
            valueName: "path"
        )
    )
    var config: String?
}
