import Testing
import VideoSpoolCore

struct LocalLeaseTests {
    @Test func aLeaseNeverRenewedAllowsNothing() {
        let lease = LocalLease(margin: .seconds(3))
        #expect(!lease.allowsAction(at: .zero))
        #expect(!lease.hasExpired(at: .seconds(100)), "a lease never held cannot expire")
    }

    @Test func theLeaseEndsAMarginBeforeTheStoreCouldEndIt() {
        var lease = LocalLease(margin: .seconds(3))
        lease.renewed(sentAt: .seconds(10), duration: .seconds(15))
        #expect(lease.validUntil == .seconds(22))
        #expect(lease.allowsAction(at: .seconds(21)))
        #expect(!lease.allowsAction(at: .seconds(22)))
        #expect(lease.hasExpired(at: .seconds(22)))
    }

    @Test func anActionMustEndInsideTheLease() {
        var lease = LocalLease(margin: .seconds(3))
        lease.renewed(sentAt: .zero, duration: .seconds(15))
        #expect(lease.allowsAction(at: .seconds(5), lasting: .seconds(6)))
        #expect(!lease.allowsAction(at: .seconds(5), lasting: .seconds(7)))
    }

    @Test func aLateAcknowledgementOfAnOlderRenewalNeverShortensTheLease() {
        var lease = LocalLease(margin: .seconds(3))
        lease.renewed(sentAt: .seconds(20), duration: .seconds(15))
        lease.renewed(sentAt: .seconds(10), duration: .seconds(15))
        #expect(lease.validUntil == .seconds(32))
    }

    @Test func aLostLeaseAllowsNothingUntilRenewedAgain() {
        var lease = LocalLease(margin: .seconds(3))
        lease.renewed(sentAt: .zero, duration: .seconds(15))
        lease.lost()
        #expect(!lease.allowsAction(at: .seconds(1)))
        lease.renewed(sentAt: .seconds(2), duration: .seconds(15))
        #expect(lease.allowsAction(at: .seconds(3)))
    }
}
