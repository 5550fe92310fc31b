/// Stable journal `MESSAGE_ID`s for lifecycle events, keyed by the `event` metadata value the
/// services log. The explanations live in `systemd/videospool.catalog`; these ids must not change.
public enum MessageID {
    public static let byEvent: [String: String] = [
        "daemon.started": "2ce4bdbfbf144a428ddad3dc03836ad4",
        "daemon.ready": "32d27343f29343a193fe211397f0b12d",
        "daemon.stopped": "0974439d24174b4f8aea3206bacfac0c",
        "daemon.reloaded": "848980573fa4417eba8d4093d4244404",
        "reload.failed": "afa5b7516a5448f782a2075349c84348",
        "request.accepted": "51670cb084be4b68934ebee53088bc5d",
        "request.rejected": "66fe4b93228547758122611b275a0d77",
        "job.submitted": "d62d26a398b942bb8dd78016c81b3491",
        "job.completed": "6ed95fbe39fa4efeabae5af2d2eee0b8",
        "job.failed": "bd2bc5f008ff493987d1a3fb19cad58d",
        "video.stored": "e186bfc0fab84b62a4a4f150ce39b984",
        "video.failed": "f8ac46fa8c1546ccb49644ef4562504a",
        "video.uploaded": "e0bf040f5bf44cab80597f2fd859a764",
        "video.upload_failed": "44fe6be97ee94d1ea8161e4d97736052",
        "webhook.delivered": "f00c23305f4e4486b876be0d4c3c7f40",
        "webhook.given_up": "a1d2e72cd2ad482f88b8593d3ff75294",
        "submissions.paused": "164fa419a5bd4b18ab4c1ad41badd52d",
        "submissions.resumed": "0ee8aa5b7d634097ac368769f78ea28b",
        "budget.reached": "78a360367a4d4dfba21bff32cf54f12f",
        "budget.resumed": "76a0d8b14d3648fb88c088a4bbcde379",
        "polling.paused": "675a9a68eabf491b8cf5016dcb0bffb4",
        "polling.resumed": "903c5d4c47184e7eb28f79ad571c78f4",
        "store.unavailable": "df5902123f694c6bb8ae3649ba89aea2",
        "store.recovered": "2f392eda444b48e0a37cac4986c9b888",
        "lease.lost": "122a07e8450f4df58862cfff949806e8",
        "jobs.taken_over": "ecfbb773538d4285b08acc7abd322960",
        "database.unavailable": "da42fba551a64f62a14445a2b8783c8d",
        "database.recovered": "b40dbdecec7949da960f5f1009dcc0c5",
    ]
}
