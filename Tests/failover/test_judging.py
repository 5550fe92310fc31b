"""How the failover test judges the victim's requests after another host took its jobs over.

Run: python3 -m unittest discover -s Tests/failover -p 'test_*.py'   (no root needed; `make failover-test`
runs it first).
"""

import unittest

from failover import victim_requests_after_takeover

VICTIM, OTHER = "10.77.0.2", "10.77.0.3"


def request(src, at, job="j0", kind="poll"):
    return {"src": src, "at": at, "job": job, "kind": kind}


class VictimRequestsAfterTakeover(unittest.TestCase):
    def setUp(self):
        # The victim polls j0 before the harm (at 10); another host polls it from 25 on.
        self.entries = [request(VICTIM, 5), request(OTHER, 25)]

    def test_a_live_victim_acting_after_the_takeover_is_fenced(self):
        late, stale = victim_requests_after_takeover(self.entries + [request(VICTIM, 30)], VICTIM, death=10)
        self.assertEqual([e["at"] for e in late], [30])
        self.assertEqual(stale, [])

    def test_what_reaches_the_proxy_after_the_victim_was_killed_is_stale_not_fenced(self):
        # Killed at 11; the link comes back at 45 and the kernel's retransmission arrives then.
        late, stale = victim_requests_after_takeover(self.entries + [request(VICTIM, 45)], VICTIM, death=10, killed=11)
        self.assertEqual(late, [])
        self.assertEqual([e["at"] for e in stale], [45])

    def test_requests_before_the_takeover_and_other_jobs_are_not_judged(self):
        entries = self.entries + [request(VICTIM, 20), request(VICTIM, 30, job="j9")]
        self.assertEqual(victim_requests_after_takeover(entries, VICTIM, death=10), ([], []))


if __name__ == "__main__":
    unittest.main()
