import Dispatch
import Synchronization
import Testing
import VideoSpoolCore
import VideoSpoolSystemd

struct ServiceManagerMessageTests {
    @Test func assignmentsFollowTheNotifyProtocol() {
        #expect(ServiceManagerMessage.ready.assignment == "READY=1")
        #expect(ServiceManagerMessage.watchdog.assignment == "WATCHDOG=1")
        #expect(ServiceManagerMessage.stopping.assignment == "STOPPING=1")
        #expect(ServiceManagerMessage.status("3 queued").assignment == "STATUS=3 queued")
        #expect(ServiceManagerMessage.reloading(monotonicMicroseconds: 123).assignment == "RELOADING=1\nMONOTONIC_USEC=123")
        #expect(ServiceManagerMessage.extendTimeout(.seconds(30)).assignment == "EXTEND_TIMEOUT_USEC=30000000")
    }

    @Test func aStatusIsOneLine() {
        #expect(ServiceManagerMessage.status("a\nb\r\nc").assignment == "STATUS=a b c")
    }

    @Test func severalAssignmentsShareADatagram() {
        #expect(ServiceManagerMessage.datagram([.ready, .status("ok")]) == "READY=1\nSTATUS=ok")
    }

    @Test func theMonotonicClockIsInMicroseconds() {
        let first = SystemdNotifier.monotonicMicroseconds()
        let second = SystemdNotifier.monotonicMicroseconds()
        #expect(second >= first)
        #expect(first > 0)
    }

    /// A service manager that does not read its socket (sd_notify blocks) holds neither the
    /// caller nor the order: notify returns at once, datagrams go out in order once the socket
    /// moves, and those beyond the backlog limit meanwhile are dropped.
    @Test func aBlockedNotifySocketDoesNotHoldTheCaller() async throws {
        let gate = DispatchSemaphore(value: 0)
        let sent = Mutex<[String]>([])
        let notifier = SystemdNotifier { datagram in
            if datagram == "STATUS=0" { gate.wait() }  // the socket is full until the test opens it
            sent.withLock { $0.append(datagram) }
        }
        for index in 0..<100 { notifier.notify([.status("\(index)")]) }
        #expect(sent.withLock { $0.isEmpty }, "nothing went out while the socket was blocked")
        #expect(!notifier.drain(timeout: .milliseconds(50)), "the first datagram is still being sent")
        gate.signal()
        #expect(notifier.drain(timeout: .seconds(30)))
        #expect(sent.withLock { $0 } == (0..<SystemdNotifier.backlogLimit).map { "STATUS=\($0)" })
        notifier.notify([.stopping])
        #expect(notifier.drain(timeout: .seconds(30)))
        #expect(sent.withLock { $0.last } == "STOPPING=1", "the backlog frees up once the socket moves")
    }

    @Test func withoutANotifySocketSendingIsHarmlessAndThereIsNoWatchdog() {
        SystemdNotifier().notify([.ready])
        #expect(ProcessInfo.processInfo.environment["WATCHDOG_USEC"] != nil || SystemdNotifier.watchdogTimeout() == nil)
    }
}

import Foundation
