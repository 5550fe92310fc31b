extension PipelinePolicy {
    /// The longest video URL passed on, in bytes: room for a signed CDN link, far below what a
    /// webhook body should carry.
    public static let maximumVideoURLLength = 8192

    /// Why `url`, the `video.url` of a completed generation, is not passed on, or `nil` if it may
    /// be: only an absolute `https` URL with a host and no user info (or `http` when
    /// ``acceptsHTTPVideoURLs``) counts as a video. Receivers render and fetch that field, so a
    /// `file:`, `javascript:` or `data:` link, a relative one or one with credentials must not reach
    /// them.
    ///
    /// The reason never quotes the URL: it goes into webhooks, outcome files and the store.
    public func videoURLProblem(_ url: String) -> String? {
        let parsed: HTTPURL
        do {
            parsed = try HTTPURL(parsing: url, maximumLength: Self.maximumVideoURLLength)
        } catch {
            return acceptsHTTPVideoURLs
                ? "is not an absolute http or https URL with a host (and without user info or whitespace)"
                : "is not an absolute https URL with a host (and without user info or whitespace)"
        }
        if parsed.scheme == "http", !acceptsHTTPVideoURLs {
            return "uses http; only https video URLs are passed on while api.base_url is https"
        }
        return nil
    }
}
