public import VideoSpoolCore

/// A notifier for runs without a service manager (tests, the demo, a terminal).
public struct SilentNotifier: ServiceManagerNotifier {
    public init() {}

    public func notify(_ messages: [ServiceManagerMessage]) {}
}
