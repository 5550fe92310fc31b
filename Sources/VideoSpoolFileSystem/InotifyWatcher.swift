#if canImport(Glibc)
import Glibc
#endif
import Foundation
import VideoSpoolCore

/// Watches one directory with inotify on a dedicated thread and turns events into hints.
///
/// Events asked for: `IN_CLOSE_WRITE` (written in place), `IN_MOVED_TO` (renamed in, the normal
/// way to publish), `IN_CREATE` (hard-linked in, as Maildir writers do); names starting with `.`
/// (writers' temporaries) are left out. A queue overflow, or the directory going away, asks for a
/// full rescan. Cancelling the consuming task ends the thread.
enum InotifyWatcher {
    static func watch(directory: String) throws -> AsyncStream<SpoolChange> {
        let notify = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard notify >= 0 else { throw SpoolFileSystemError("inotify_init1", path: directory) }
        let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE_SELF | IN_MOVE_SELF)
            | UInt32(IN_ONLYDIR) | UInt32(IN_DONT_FOLLOW) | UInt32(IN_EXCL_UNLINK)
        guard inotify_add_watch(notify, directory, mask) >= 0 else {
            let error = SpoolFileSystemError("inotify_add_watch", path: directory)
            close(notify)
            throw error
        }
        let stop: StopPipe
        do {
            stop = try StopPipe()
        } catch {
            close(notify)
            throw error
        }
        let (stream, continuation) = AsyncStream.makeStream(of: SpoolChange.self, bufferingPolicy: .unbounded)
        let thread = Thread {
            defer {
                close(notify)
                continuation.finish()
            }
            readEvents(notify: notify, stop: stop.readEnd, continuation: continuation)
        }
        thread.name = "videospool-inotify"
        continuation.onTermination = { _ in
            stop.signal()
        }
        thread.start()
        return stream
    }

    private static func readEvents(notify: Int32, stop: Int32, continuation: AsyncStream<SpoolChange>.Continuation) {
        let bufferSize = 64 * 1024
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bufferSize, alignment: 8)
        defer { buffer.deallocate() }
        var descriptors = [pollfd(fd: notify, events: Int16(POLLIN), revents: 0), pollfd(fd: stop, events: Int16(POLLIN), revents: 0)]
        while true {
            let ready = poll(&descriptors, 2, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                continuation.yield(.rescan)
                return
            }
            if descriptors[1].revents != 0 { return }
            guard descriptors[0].revents != 0 else { continue }
            let count = read(notify, buffer, bufferSize)
            if count <= 0 {
                if count < 0, errno == EAGAIN || errno == EINTR { continue }
                continuation.yield(.rescan)
                return
            }
            var offset = 0
            while offset + MemoryLayout<inotify_event>.size <= count {
                let event = buffer.load(fromByteOffset: offset, as: inotify_event.self)
                let nameLength = Int(event.len)
                let nameStart = offset + MemoryLayout<inotify_event>.size
                if event.mask & UInt32(IN_Q_OVERFLOW) != 0 {
                    continuation.yield(.rescan)
                } else if event.mask & UInt32(IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT) != 0 {
                    // The directory itself went away: nothing more will come from this watch.
                    continuation.yield(.rescan)
                    return
                } else if nameLength > 0 {
                    // The name is NUL-padded to `len`; its bytes go through as they are (escaped),
                    // so a name that is not UTF-8 can still be opened. A name starting with `.` is a
                    // writer's temporary file, never a request: its creation and close wake nobody
                    // (two of the three events a published request makes).
                    let raw = UnsafeRawBufferPointer(start: buffer.advanced(by: nameStart), count: nameLength)
                    let bytes = raw.prefix { $0 != 0 }
                    if let first = bytes.first, first != UInt8(ascii: ".") {
                        continuation.yield(.file(SpoolFileName.escape(bytes)))
                    }
                }
                offset = nameStart + nameLength
            }
        }
    }
}

/// A pipe whose write end wakes the watcher thread (Glibc's module does not export eventfd). Both
/// ends close when the last user lets go, so a late signal never writes to a reused descriptor.
private final class StopPipe: Sendable {
    let readEnd: Int32
    let writeEnd: Int32

    init() throws {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw SpoolFileSystemError("pipe", path: "(inotify stop)") }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        _ = fcntl(ends[1], F_SETFL, O_NONBLOCK)
        readEnd = ends[0]
        writeEnd = ends[1]
    }

    func signal() {
        var one: UInt8 = 1
        _ = write(writeEnd, &one, 1)
    }

    deinit {
        close(readEnd)
        close(writeEnd)
    }
}
