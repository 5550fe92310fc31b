"""The recording proxy's own test: it forwards, and it attributes each request to its job and sender.

Run: python3 -m unittest discover -s Tests/failover -p 'test_*.py'   (no root needed; `make failover-test`
runs it first).
"""

import http.client
import http.server
import json
import threading
import time
import unittest

from recorder import Recorder


class FakeAPI(http.server.BaseHTTPRequestHandler):
    """Answers a submission with a generation id, a poll with its status, a webhook with 204."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, document=None):
        body = json.dumps(document).encode() if document is not None else b""
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/v2/video/generations":
            self.reply(200, {"id": "gen-1", "status": "queued"})
        else:
            self.reply(204)

    def do_GET(self):
        self.reply(200, {"id": "gen-1", "status": "generating"})


class RecorderTests(unittest.TestCase):
    def setUp(self):
        self.api = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeAPI)
        threading.Thread(target=self.api.serve_forever, daemon=True).start()
        self.recorder = Recorder(("127.0.0.1", 0), ("127.0.0.1", self.api.server_address[1]))
        self.recorder.start()
        self.port = self.recorder.server.server_address[1]

    def tearDown(self):
        self.recorder.stop()
        self.api.shutdown()
        self.api.server_close()

    def request(self, method, path, body=None, headers=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers or {})
        response = connection.getresponse()
        answer = response.status, response.read()
        connection.close()
        return answer

    def test_attributes_submissions_polls_and_webhooks_to_their_job_and_sender(self):
        status, answer = self.request("POST", "/v2/video/generations", {"prompt": "failover job-7 extra", "model": "m"})
        self.assertEqual((status, json.loads(answer)["id"]), (200, "gen-1"))
        self.assertEqual(self.request("GET", "/v2/video/generations?generation_id=gen-1")[0], 200)
        hook = {"type": "video.generation.completed", "data": {"job_id": "job-7"}}
        self.assertEqual(self.request("POST", "/webhooks/job-7", hook, {"webhook-id": "msg_1"})[0], 204)

        submit, poll, webhook = self.recorder.snapshot()
        self.assertEqual((submit["kind"], submit["job"], submit["generation"], submit["src"]), ("submit", "job-7", "gen-1", "127.0.0.1"))
        self.assertEqual((poll["kind"], poll["job"], poll["generation"], poll["status"]), ("poll", "job-7", "gen-1", 200))
        self.assertEqual((webhook["kind"], webhook["job"], webhook["type"], webhook["webhook_id"]),
                         ("webhook", "job-7", "video.generation.completed", "msg_1"))
        self.assertTrue(submit["at"] <= poll["at"] <= webhook["at"])

    def test_a_failed_jobs_webhook_carries_its_failure_code(self):
        hook = {"type": "video.generation.failed",
                "data": {"job_id": "job-9", "error": {"code": "submission_outcome_unknown", "message": "?"}}}
        self.request("POST", "/webhooks/job-9", hook, {"webhook-id": "msg_2"})
        (entry,) = self.recorder.snapshot()
        self.assertEqual((entry["type"], entry["code"]), ("video.generation.failed", "submission_outcome_unknown"))

    def test_a_held_submission_is_forwarded_at_once_and_answered_late(self):
        self.recorder.hold_submissions_from = {"127.0.0.1"}
        self.recorder.hold_seconds = 0.5
        started = time.monotonic()
        status, _ = self.request("POST", "/v2/video/generations", {"prompt": "failover job-8"})
        self.assertEqual(status, 200)
        self.assertGreaterEqual(time.monotonic() - started, 0.5)
        (entry,) = self.recorder.held
        self.assertEqual((entry["job"], entry["generation"], entry["held"]), ("job-8", "gen-1", True))

    def test_a_prompt_without_the_marker_names_no_job(self):
        self.assertIsNone(Recorder.job_from_prompt(b'{"prompt": "a cat"}'))
        self.assertIsNone(Recorder.job_from_prompt(b"not json"))


if __name__ == "__main__":
    unittest.main()
