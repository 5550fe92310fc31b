#!/usr/bin/env python3
"""`make failover-test`: videospool daemons on one PostgreSQL, hosts killed, frozen and partitioned.

Two daemons (hosts a and b, each in its own network namespace) share a throwaway PostgreSQL cluster
(namespace db) and the simulated API, reached through a recording proxy (recorder.py) that notes who
sent what, when. Each scenario submits a few jobs, harms the host that polls generations (the victim),
and then checks from outside the daemons:

- every job ends exactly once (one transition to a final phase in the database, none left running);
- the simulator never sees a second POST for a job;
- the victim never POSTs, polls or delivers for a job after another host has acted on it (fencing);
- every job's callback gets its webhook, all copies with one webhook-id;
- takeover: from the harm to the moment another host has polled every generation the victim was
  polling (per kill, the slowest of its generations).

Usage (root): failover.py [--binary PATH] [--runs N] [--scenario NAME ...]
"""

import argparse
import base64
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from recorder import Recorder, PROMPT_PREFIX  # noqa: E402
from topology import ADDRESSES, HOST_IP, Database, Network, sh  # noqa: E402

API_KEY = "failover-key"
GENERATION_SECONDS = 35
JOBS = 6
PROXY_PORT = 8080
SIMULATOR_PORT = 8089
FINAL_PHASES = ("completed", "failed", "canceled", "rejected")
LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
# The daemons' log level (FAILOVER_LOG_LEVEL=debug to see what a stuck daemon last did).
LOG_LEVEL = os.environ.get("FAILOVER_LOG_LEVEL", "info")


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def wait_for(predicate, timeout, what, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


class Daemon:
    def __init__(self, harness, host, root, database, extra_state="", clock_offset=None):
        self.host, self.root, self.address = host, root, ADDRESSES[host]
        self.clock_offset = clock_offset
        os.makedirs(root + "/spool/incoming", exist_ok=True)
        with open(root + "/api-key", "w") as f:
            f.write(API_KEY + "\n")
        with open(root + "/webhook-secret", "w") as f:
            f.write(harness.webhook_secret + "\n")
        self.config = root + "/videospool.yaml"
        with open(self.config, "w") as f:
            f.write(f"""spool:
  directory: {root}/spool
  settle_seconds: 0.2
state:
  directory: {root}/state
  backend: postgresql
  postgresql:
    url: "{harness.database.url(database)}"
{extra_state}api:
  base_url: http://{HOST_IP}:{PROXY_PORT}
  key_file: {root}/api-key
  poll:
    schedule: fixed
    first_delay_seconds: 1
    interval_seconds: 1
webhooks:
  secret_file: {root}/webhook-secret
  allow_private_networks: true
  retry_schedule_seconds: [1, 2, 4, 8, 16]
log:
  level: {LOG_LEVEL}
""")
        env = dict(os.environ)
        if clock_offset:
            # libfaketime moves the wall clock only; the monotonic clock stays true.
            env.update(LD_PRELOAD=LIBFAKETIME, FAKETIME=clock_offset, FAKETIME_DONT_FAKE_MONOTONIC="1",
                       FAKETIME_NO_CACHE="1")
        self.log_path = root + "/daemon.log"
        self.log_file = open(self.log_path, "a")
        self.process = subprocess.Popen(
            harness.network.exec_prefix(host) + [harness.binary, "run", "--config", self.config],
            stdout=self.log_file, stderr=subprocess.STDOUT, env=env)

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_ready(self):
        wait_for(lambda: "event=daemon.ready" in self.log_text() or self.process.poll() is not None, 90,
                 f"daemon {self.host} to be ready")
        if self.process.poll() is not None:
            raise RuntimeError(f"daemon {self.host} exited ({self.process.returncode}):\n{self.log_text()[-3000:]}")
        if self.clock_offset:
            with open(f"/proc/{self.process.pid}/maps") as maps:
                if "libfaketime" not in maps.read():
                    raise RuntimeError(f"daemon {self.host} does not run under libfaketime")
            # The daemon's own log says what time it thinks it is.
            line = next(l for l in self.log_text().splitlines() if "event=daemon.ready" in l)
            stamped = time.mktime(time.strptime(line.split()[0][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
            return stamped - time.time()
        return 0.0

    def drop(self, job_id):
        body = {"model": "bytedance/dreamina-seedance-2-0-mini", "prompt": f"{PROMPT_PREFIX}{job_id}", "duration": 5,
                "job_id": job_id, "callback_url": f"http://{HOST_IP}:{PROXY_PORT}/webhooks/{job_id}"}
        incoming = self.root + "/spool/incoming"
        with open(f"{incoming}/.{job_id}.tmp", "w") as f:
            json.dump(body, f)
        os.rename(f"{incoming}/.{job_id}.tmp", f"{incoming}/{job_id}.json")

    def signal(self, number):
        if self.process.poll() is None:
            os.kill(self.process.pid, number)

    def save_backtraces(self):
        """Every thread's stack beside the daemon's log, when gdb is at hand: what a stuck daemon waits on."""
        gdb = shutil.which("gdb")
        if gdb is None or self.process.poll() is not None:
            return
        with open(self.root + "/backtraces.txt", "w") as out:
            subprocess.run([gdb, "-p", str(self.process.pid), "-batch", "-ex", "thread apply all bt"],
                           stdout=out, stderr=subprocess.STDOUT, timeout=120)

    def stop(self):
        if self.process.poll() is None:
            self.signal(signal.SIGCONT)
            self.signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.process.wait()
        self.log_file.close()


def victim_requests_after_takeover(entries, victim_address, death, killed=None):
    """The victim's requests for jobs another host acted on after the harm, from that moment on.

    Returns (late, stale): `late` are acts of a fenced owner (a failure); `stale` arrived after the
    victim's process was killed, so they were written before its death, while it still held its
    lease, and the network delivered them late (a link that comes back delivers what the kernel of a
    dead process kept retransmitting). A stale POST would still show as a duplicate POST.
    Only jobs the victim had acted on before the harm count: jobs submitted later may be its own again.
    """
    held_by_victim = {e["job"] for e in entries if e["src"] == victim_address and e["at"] < death and e.get("job")}
    late, stale = [], []
    for job in sorted(held_by_victim):
        foreign = [e["at"] for e in entries if e.get("job") == job and e["src"] != victim_address
                   and e["src"] != HOST_IP and e["at"] >= death]
        if not foreign:
            continue
        taken = min(foreign)
        for e in entries:
            if e.get("job") == job and e["src"] == victim_address and e["at"] >= taken:
                (stale if killed is not None and e["at"] > killed else late).append(e)
    return late, stale


class Run:
    """One scenario run: its database, its daemons, and what was seen."""

    def __init__(self, harness, scenario, index):
        self.harness, self.scenario, self.index = harness, scenario, index
        self.database = f"failover_{scenario.replace('-', '_')}_{index}"
        harness.database.create(self.database)
        harness.recorder.reset()
        self.root = tempfile.mkdtemp(prefix=f"{scenario}-{index}-", dir=harness.workdir)
        self.daemons = {}
        self.jobs = []
        self.death = None
        self.killed = None
        self.victim = None
        self.observe_until = None
        self.notes = []  # what happened, for the reader
        self.problems = []  # what went wrong besides the counted checks: each fails the test

    def start(self, host, **options):
        daemon = Daemon(self.harness, host, f"{self.root}/{host}", self.database, **options)
        self.daemons[host] = daemon
        return daemon

    def submit(self, host, count, tag="j"):
        for number in range(count):
            job = f"{self.scenario}-{self.index}-{tag}{number}"
            self.jobs.append(job)
            self.daemons[host].drop(job)

    def entries(self):
        return self.harness.recorder.snapshot()

    def polled_jobs(self, address=None):
        return {e["job"] for e in self.entries() if e["kind"] == "poll" and e.get("job") and e.get("status") == 200
                and (address is None or e["src"] == address)}

    def wait_polled(self, jobs, timeout=60):
        wait_for(lambda: set(jobs) <= self.polled_jobs(), timeout, f"a poll of each of {len(jobs)} generations")

    def pick_victim(self):
        """The host polling the most generations now."""
        counts = {host: len(self.polled_jobs(ADDRESSES[host])) for host in self.daemons}
        return max(counts, key=counts.get)

    def mark_death(self, victim):
        self.victim, self.death = victim, time.time()

    def kill(self, host):
        """SIGKILL; from then on nothing the host's process sends can be new."""
        self.daemons[host].signal(signal.SIGKILL)
        self.killed = time.time()

    def final_phases(self):
        rows = self.harness.database.psql("SELECT id, phase FROM videospool.jobs", self.database)
        return dict(line.split("\t") for line in rows.splitlines() if line)

    def all_settled(self):
        phases = self.final_phases()
        if not all(phases.get(job) in FINAL_PHASES for job in self.jobs):
            return False
        hooks = {e["job"] for e in self.entries() if e["kind"] == "webhook" and e.get("status", 0) < 300}
        return set(self.jobs) <= hooks

    def wait_settled(self, timeout):
        try:
            wait_for(self.all_settled, timeout, "every job to end and its webhook to arrive", interval=0.5)
        except TimeoutError as error:
            self.problems.append(str(error))
            for daemon in self.daemons.values():
                daemon.save_backtraces()

    def finish(self):
        for daemon in self.daemons.values():
            daemon.stop()
        self.harness.network.restore()
        with open(self.root + "/requests.jsonl", "w") as f:
            for entry in self.entries():
                f.write(json.dumps(entry) + "\n")
        return self.analyse()

    # -- the checks -----------------------------------------------------------------------------------

    def analyse(self):
        entries = self.entries()
        phases = self.final_phases()
        finals = self.harness.database.psql(
            "SELECT job_id, count(*) FROM videospool.transitions WHERE to_phase IN "
            "('completed','failed','canceled','rejected') GROUP BY job_id", self.database)
        final_transitions = {job: int(n) for job, n in (line.split("\t") for line in finals.splitlines() if line)}
        lost = [job for job in self.jobs if phases.get(job) not in FINAL_PHASES]
        ended_twice = [job for job in self.jobs if final_transitions.get(job, 0) > 1]

        posts = {}
        for e in entries:
            if e["kind"] == "submit" and e.get("job"):
                posts[e["job"]] = posts.get(e["job"], 0) + 1
        duplicate_posts = sum(n - 1 for n in posts.values() if n > 1)

        hooks = {}
        for e in entries:
            if e["kind"] == "webhook" and e.get("job"):
                hooks.setdefault(e["job"], []).append(e)
        webhook_problems = []
        for job in self.jobs:
            received = hooks.get(job, [])
            if not any(e.get("status", 0) < 300 for e in received):
                webhook_problems.append(f"{job}: no webhook")
            elif len({e.get("webhook_id") for e in received}) != 1:
                webhook_problems.append(f"{job}: webhook-ids {sorted({str(e.get('webhook_id')) for e in received})}")
        duplicate_webhooks = sum(len(v) - 1 for v in hooks.values() if len(v) > 1)

        fenced, takeovers = [], []
        if self.victim:
            victim_address = ADDRESSES[self.victim]
            late, stale = victim_requests_after_takeover(entries, victim_address, self.death, self.killed)
            fenced.extend(f"{e['kind']} for {e['job']} from the victim {e['at'] - self.death:.1f} s after the harm" for e in late)
            if stale:
                self.notes.append(
                    f"{len(stale)} request(s) from the victim reached the proxy after it was killed "
                    f"({max(e['at'] for e in stale) - self.death:.1f} s after the harm at the latest): written "
                    "before its death and delivered by the network late, not acts of a fenced owner")
            # Takeover: the victim's generations being polled at the harm, each polled by another host.
            polled_by_victim = {e["job"] for e in entries if e["kind"] == "poll" and e["src"] == victim_address
                                and e["at"] < self.death and e.get("job")}
            waits = []
            for job in sorted(polled_by_victim):
                if phases.get(job) is None:
                    continue
                foreign_polls = [e["at"] for e in entries if e["kind"] == "poll" and e.get("job") == job
                                 and e["src"] != victim_address and e["at"] >= self.death]
                if foreign_polls:
                    waits.append(min(foreign_polls) - self.death)
                else:
                    self.problems.append(f"{job}: never polled by another host after the harm")
            if waits:
                takeovers.append(max(waits))
                self.notes.append(f"{len(waits)} of the victim's generations taken over, "
                                  f"first after {min(waits):.1f} s, last after {max(waits):.1f} s")
        # A job whose POST was on the wire when its sender died ends failed as unknown, never POSTed again.
        held = {e["job"] for e in entries if e.get("held")}
        ambiguous = sorted(job for job in held if job in self.jobs)
        for job in ambiguous:
            codes = {e.get("code") for e in hooks.get(job, [])}
            if phases.get(job) != "failed" or codes != {"submission_outcome_unknown"}:
                self.problems.append(f"{job}: POST on the wire ended {phases.get(job)} with {sorted(map(str, codes))}, "
                                     "not failed with submission_outcome_unknown")
        return {
            "scenario": self.scenario, "run": self.index, "jobs": len(self.jobs), "victim": self.victim,
            "lost": lost, "ended_twice": ended_twice, "duplicate_posts": duplicate_posts,
            "fenced_actions": fenced, "webhook_problems": webhook_problems, "duplicate_webhooks": duplicate_webhooks,
            "takeovers": takeovers, "ambiguous": ambiguous, "notes": self.notes, "problems": self.problems,
            "phases": {job: phases.get(job) for job in self.jobs},
        }


# -- scenarios -------------------------------------------------------------------------------------------
# Each starts its daemons, submits, harms, and waits; Run.finish() checks. Jobs go to a's spool.

def start_pair(run, **b_options):
    a, b = run.start("a"), run.start("b", **b_options)
    a.wait_ready()
    b.wait_ready()
    return a, b


def in_flight(run):
    run.submit("a", JOBS)
    run.wait_polled(run.jobs)
    return run.pick_victim()


def scenario_sigkill(run):
    start_pair(run)
    victim = in_flight(run)
    run.mark_death(victim)
    run.kill(victim)
    run.wait_settled(90)


def scenario_link_down(run):
    start_pair(run)
    victim = in_flight(run)
    run.mark_death(victim)
    run.harness.network.link_down(victim)
    time.sleep(1)  # the host is gone from the network first, then its process dies without a word
    run.kill(victim)
    run.wait_settled(90)
    run.harness.network.link_up(victim)


def scenario_sigstop(run, frozen=60):
    start_pair(run)
    victim = in_flight(run)
    run.mark_death(victim)
    run.daemons[victim].signal(signal.SIGSTOP)
    run.wait_settled(frozen)
    time.sleep(max(0, run.death + frozen - time.time()))
    run.daemons[victim].signal(signal.SIGCONT)
    # The zombie wakes: give it time to act on what it believed it held, and new work to do.
    run.submit("b", 2, tag="after")
    time.sleep(15)
    run.wait_settled(90)


def scenario_partition(run, cut=40):
    start_pair(run)
    victim = in_flight(run)
    run.mark_death(victim)
    run.harness.network.partition_from_database(victim)
    run.wait_settled(cut)
    time.sleep(max(0, run.death + cut - time.time()))
    run.harness.network.heal(victim)
    run.submit("b", 2, tag="after")
    time.sleep(15)
    run.wait_settled(90)


def scenario_postgres_restart(run):
    start_pair(run)
    run.submit("a", JOBS // 2)
    run.wait_polled(run.jobs)
    # Under load: submissions arriving and generations being polled while the server restarts.
    run.submit("a", JOBS // 2, tag="during")
    took = run.harness.database.restart()
    run.notes.append(f"restart took {took:.1f} s")
    run.submit("b", 2, tag="after")
    run.wait_settled(120)


def scenario_post_on_the_wire(run):
    # The victim dies while the API holds its POST: the job's outcome is unknown, and it must never be
    # POSTed again (it fails as api.ambiguous_submit_policy says, after the grace below).
    a = run.start("a", extra_state="    submit_grace_seconds: 10\n")
    b = run.start("b", extra_state="    submit_grace_seconds: 10\n")
    a.wait_ready()
    b.wait_ready()
    victim = in_flight(run)
    recorder = run.harness.recorder
    recorder.hold_seconds = 120
    recorder.hold_submissions_from = {ADDRESSES[victim]}
    run.submit(victim, 2, tag="held")
    wait_for(lambda: recorder.held, 30, "a held POST from the victim")
    run.mark_death(victim)
    run.kill(victim)
    run.wait_settled(120)


def scenario_clock_ahead(run):
    # b's wall clock is 60 s ahead: it must not think a's lease ran out, and must take over when a dies.
    a, b = run.start("a"), run.start("b", clock_offset="+60s")
    a.wait_ready()
    skew = b.wait_ready()
    if skew < 50:
        run.problems.append(f"b's clock is only {skew:.0f} s ahead")
    run.notes.append(f"b's log is {skew:.0f} s ahead")
    run.submit("a", JOBS)
    run.wait_polled(run.jobs)
    watched_from = time.time()
    time.sleep(20)  # longer than a lease: a reaper misled by b's clock would have released a's jobs by now
    stolen = {e["job"] for e in run.entries() if e["kind"] == "poll" and e["src"] == ADDRESSES["b"]
              and e["at"] >= watched_from} & run.polled_jobs(ADDRESSES["a"])
    if stolen:
        run.problems.append(f"b polled a's generations while a was alive: {sorted(stolen)}")
    run.mark_death("a")
    run.kill("a")
    run.wait_settled(90)


SCENARIOS = {
    "sigkill": (scenario_sigkill, 1),
    "link-down": (scenario_link_down, 1),
    "sigstop-60s": (scenario_sigstop, 1),
    "partition-40s": (scenario_partition, 1),
    "postgres-restart": (scenario_postgres_restart, 0),
    "post-on-the-wire": (scenario_post_on_the_wire, 1),
    "clock-ahead-60s": (scenario_clock_ahead, 1),
}


class Harness:
    def __init__(self, binary):
        self.binary = os.path.abspath(binary)
        self.workdir = tempfile.mkdtemp(prefix="videospool-failover-")
        self.network = Network()
        self.database = None
        self.simulator = None
        self.recorder = Recorder((HOST_IP, PROXY_PORT), (HOST_IP, SIMULATOR_PORT))
        self.webhook_secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()

    def __enter__(self):
        self.network.set_up()
        self.database = Database(self.network)
        log(f"PostgreSQL started in {self.database.start():.1f} s")
        self.simulator_log = open(self.workdir + "/simulator.log", "w")
        self.simulator = subprocess.Popen(
            [self.binary, "simulate", "--listen", f"{HOST_IP}:{SIMULATOR_PORT}", "--api-key", API_KEY,
             "--generation-seconds", str(GENERATION_SECONDS), "--webhook-secret", self.webhook_secret],
            stdout=self.simulator_log, stderr=subprocess.STDOUT)
        self.recorder.start()
        wait_for(lambda: sh("ss", "-ltn", check=False).find(f"{HOST_IP}:{SIMULATOR_PORT}") >= 0, 30, "the simulator")
        return self

    def __exit__(self, *exc):
        self.recorder.stop()
        if self.simulator and self.simulator.poll() is None:
            self.simulator.terminate()
            self.simulator.wait(timeout=15)
        if self.database:
            self.database.stop()
        self.network.tear_down()
        self.simulator_log.close()
        # Runs with problems kept their directories here; without any, nothing is worth keeping.
        if not [name for name in os.listdir(self.workdir) if name != "simulator.log"]:
            shutil.rmtree(self.workdir, ignore_errors=True)


def summarize(results, runs):
    rows, all_takeovers = [], []
    totals = {"kills": 0, "lost": 0, "dup": 0, "fenced": 0, "hooks": 0, "other": 0}
    for name, (_, kills_per_run) in SCENARIOS.items():
        mine = [r for r in results if r["scenario"] == name]
        if not mine:
            continue
        takeovers = [t for r in mine for t in r["takeovers"]]
        all_takeovers += takeovers
        row = {
            "scenario": name, "runs": len(mine), "kills": kills_per_run * len(mine),
            "jobs": sum(r["jobs"] for r in mine), "lost": sum(len(r["lost"]) for r in mine),
            "twice": sum(len(r["ended_twice"]) for r in mine), "dup": sum(r["duplicate_posts"] for r in mine),
            "fenced": sum(len(r["fenced_actions"]) for r in mine),
            "hooks": sum(len(r["webhook_problems"]) for r in mine),
            "dup_hooks": sum(r["duplicate_webhooks"] for r in mine),
            "ambiguous": sum(len(r["ambiguous"]) for r in mine),
            "other": sum(len(r["problems"]) for r in mine),
            "p50": statistics.median(takeovers) if takeovers else None, "max": max(takeovers) if takeovers else None,
        }
        rows.append(row)
        totals["kills"] += row["kills"]
        totals["lost"] += row["lost"] + row["twice"]
        totals["dup"] += row["dup"]
        totals["fenced"] += row["fenced"]
        totals["hooks"] += row["hooks"]
        totals["other"] += row["other"]

    def seconds(value):
        return "-" if value is None else f"{value:.1f} s"

    header = ("scenario", "runs", "kills", "jobs", "lost", "ended twice", "dup POSTs", "fenced actions",
              "webhooks missing/unstable", "dup webhooks", "ambiguous", "other problems", "takeover p50", "takeover max")
    lines = [header] + [(r["scenario"], r["runs"], r["kills"], r["jobs"], r["lost"], r["twice"], r["dup"], r["fenced"],
                         r["hooks"], r["dup_hooks"], r["ambiguous"], r["other"], seconds(r["p50"]), seconds(r["max"])) for r in rows]
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    print()
    for number, line in enumerate(lines):
        print("| " + " | ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(line)) + " |")
        if number == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    p50 = statistics.median(all_takeovers) if all_takeovers else None
    worst = max(all_takeovers) if all_takeovers else None
    met = (totals["lost"] == 0 and totals["dup"] == 0 and totals["fenced"] == 0 and totals["hooks"] == 0
           and totals["other"] == 0 and (worst is None or (worst <= 30 and p50 <= 20)))
    print()
    print(f"failover: {len(rows)} scenarios x {runs} runs, {totals['kills']} kills, {totals['lost']} lost, "
          f"{totals['dup']} duplicate POSTs, {totals['fenced']} fenced-owner actions, {totals['hooks']} webhook problems, "
          f"{totals['other']} other problems, "
          f"takeover p50 {seconds(p50)} max {seconds(worst)}" + ("" if met else " — TARGETS NOT MET"))
    return met


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=".build/release/videospool")
    parser.add_argument("--runs", type=int, default=int(os.environ.get("RUNS", "5")))
    parser.add_argument("--scenario", action="append", choices=list(SCENARIOS), help="only these (repeatable)")
    parser.add_argument("--results", default="failover-results.json")
    arguments = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("failover-test needs root (network namespaces, iptables, runuser)")
    chosen = arguments.scenario or list(SCENARIOS)
    results = []
    with Harness(arguments.binary) as harness:
        for index in range(arguments.runs):
            for name in chosen:
                log(f"{name} run {index + 1}/{arguments.runs}")
                run = Run(harness, name, index)
                try:
                    SCENARIOS[name][0](run)
                except Exception as error:  # noqa: BLE001 - a broken run is reported, the rest go on
                    run.problems.append(f"scenario error: {error}")
                result = run.finish()
                results.append(result)
                problems = (result["lost"] + result["ended_twice"] + result["fenced_actions"] + result["webhook_problems"]
                            + result["problems"])
                log(f"  victim {result['victim']}, takeover {['%.1f s' % t for t in result['takeovers']]}, "
                    f"dup POSTs {result['duplicate_posts']}, ambiguous {result['ambiguous']}"
                    + (f", PROBLEMS: {problems}" if problems else "") + (f", notes: {result['notes']}" if result["notes"] else ""))
                if problems:
                    log(f"  daemon logs and the proxy's requests.jsonl kept in {run.root}")
                else:
                    shutil.rmtree(run.root, ignore_errors=True)
    with open(arguments.results, "w") as f:
        json.dump(results, f, indent=1)
    sys.exit(0 if summarize(results, arguments.runs) else 1)


if __name__ == "__main__":
    main()
