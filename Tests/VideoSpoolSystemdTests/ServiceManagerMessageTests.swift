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

    @Test func withoutANotifySocketSendingIsHarmlessAndThereIsNoWatchdog() {
        SystemdNotifier().notify([.ready])
        #expect(ProcessInfo.processInfo.environment["WATCHDOG_USEC"] != nil || SystemdNotifier.watchdogTimeout() == nil)
    }
}

import Foundation
