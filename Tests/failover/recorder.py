"""A recording proxy in front of `videospool simulate`: the failover test's witness outside the daemons.

Every request a daemon sends to the API or to its webhook URL passes through here, and is logged with
the address it came from (each host has its own address on the test network), the job it is about,
and when it arrived. The simulator itself answers; the proxy only forwards and writes down. It can also
hold a submission's answer back (a POST "on the wire" while its sender dies).

What a request is about:
- POST /v2/video/generations: the job id is in the prompt ("failover <job id>"); the answer's `id` is
  the generation, remembered so that polls can be mapped back to their job.
- GET /v2/video/generations?generation_id=G: the job that generation G belongs to.
- POST /webhooks/...: `data.job_id` in the body, `type`, and the `webhook-id` header.
"""

import http.client
import http.server
import json
import threading
import time
import urllib.parse

PROMPT_PREFIX = "failover "


class Entry(dict):
    """One request: at, src, kind (submit | poll | webhook | other), job, generation, status, ..."""


class Recorder:
    def __init__(self, listen, upstream):
        self.listen = listen
        self.upstream = upstream
        self.lock = threading.Lock()
        self.entries = []
        self.job_of_generation = {}
        # Submissions from these addresses are forwarded, then their answers held for hold_seconds.
        self.hold_submissions_from = set()
        self.hold_seconds = 0.0
        self.held = []
        self.server = None

    # -- parsing (pure, tested in test_recorder.py) ------------------------------------------------

    @staticmethod
    def job_from_prompt(body):
        try:
            prompt = json.loads(body).get("prompt", "")
        except (ValueError, AttributeError):
            return None
        return prompt[len(PROMPT_PREFIX):].split()[0] if prompt.startswith(PROMPT_PREFIX) else None

    @staticmethod
    def webhook_facts(body, headers):
        """(job id, event type, webhook-id, failure code or None)."""
        try:
            document = json.loads(body)
        except ValueError:
            return None, None, headers.get("webhook-id"), None
        data = document.get("data") or {}
        code = (data.get("error") or {}).get("code") if isinstance(data.get("error"), dict) else None
        return data.get("job_id"), document.get("type"), headers.get("webhook-id"), code

    def classify(self, method, path, body, headers):
        """What a request is about, before it is forwarded."""
        parsed = urllib.parse.urlsplit(path)
        entry = Entry(method=method, path=parsed.path)
        if method == "POST" and parsed.path == "/v2/video/generations":
            entry.update(kind="submit", job=self.job_from_prompt(body))
        elif method == "GET" and parsed.path == "/v2/video/generations":
            generation = urllib.parse.parse_qs(parsed.query).get("generation_id", [None])[0]
            with self.lock:
                job = self.job_of_generation.get(generation)
            entry.update(kind="poll", generation=generation, job=job)
        elif method == "POST" and parsed.path.startswith("/webhooks/"):
            job, event_type, webhook_id, code = self.webhook_facts(body, headers)
            entry.update(kind="webhook", job=job, type=event_type, webhook_id=webhook_id, code=code)
        else:
            entry.update(kind="other")
        return entry

    def learn(self, entry, status, answer):
        """What the answer teaches: a submission's generation id."""
        entry["status"] = status
        if entry["kind"] == "submit" and status == 200:
            try:
                generation = json.loads(answer).get("id")
            except ValueError:
                generation = None
            entry["generation"] = generation
            if generation and entry.get("job"):
                with self.lock:
                    self.job_of_generation[generation] = entry["job"]

    def record(self, entry):
        with self.lock:
            self.entries.append(entry)

    def snapshot(self):
        with self.lock:
            return list(self.entries)

    def reset(self):
        with self.lock:
            self.entries = []
            self.job_of_generation = {}
            self.held = []
        self.hold_submissions_from = set()
        self.hold_seconds = 0.0

    # -- serving ------------------------------------------------------------------------------------

    def start(self):
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def read_body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def handle_any(self):
                arrived = time.time()
                body = self.read_body()
                headers = {name.lower(): value for name, value in self.headers.items()}
                entry = recorder.classify(self.command, self.path, body, headers)
                entry.update(at=arrived, src=self.client_address[0])
                recorder.record(entry)
                forwarded = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "transfer-encoding", "connection")}
                forwarded["Content-Length"] = str(len(body))
                connection = http.client.HTTPConnection(*recorder.upstream, timeout=60)
                try:
                    connection.request(self.command, self.path, body=body if body or self.command == "POST" else None, headers=forwarded)
                    response = connection.getresponse()
                    answer = response.read()
                    status = response.status
                    answer_headers = [(k, v) for k, v in response.getheaders()
                                      if k.lower() not in ("transfer-encoding", "connection", "content-length")]
                finally:
                    connection.close()
                recorder.learn(entry, status, answer)
                if entry["kind"] == "submit" and entry["src"] in recorder.hold_submissions_from:
                    entry["held"] = True
                    with recorder.lock:
                        recorder.held.append(entry)
                    time.sleep(recorder.hold_seconds)
                self.send_response(status)
                for name, value in answer_headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def do_GET(self):
                self.handle_any()

            def do_POST(self):
                self.handle_any()

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request, client_address):
                pass  # a daemon killed mid-request: nothing to report

        self.server = Server(self.listen, Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
