"""The failover test's network and database: Linux network namespaces on a bridge, one throwaway
PostgreSQL cluster in its own namespace. Needs root (CAP_NET_ADMIN, runuser).

    vs-db  10.77.0.1   PostgreSQL
    vs-a   10.77.0.2   daemon a
    vs-b   10.77.0.3   daemon b
    host   10.77.0.254 (the bridge) the recording proxy and the simulator, in the test's own namespace
"""

import glob
import os
import shutil
import subprocess
import tempfile
import time

BRIDGE = "vsbr0"
PREFIX = "10.77.0"
HOST_IP = f"{PREFIX}.254"
ADDRESSES = {"db": f"{PREFIX}.1", "a": f"{PREFIX}.2", "b": f"{PREFIX}.3"}
DB_IP = ADDRESSES["db"]


def sh(*argv, check=True, quiet=False):
    result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}): {result.stdout.strip()}")
    return result.stdout


class Network:
    """The bridge and one namespace per host, each joined to the bridge by a veth pair."""

    def __init__(self):
        self.hosts = list(ADDRESSES)

    @staticmethod
    def namespace(host):
        return f"vs-{host}"

    @staticmethod
    def outer_link(host):
        return f"vs-{host}-h"

    def tear_down(self):
        for host in self.hosts:
            sh("ip", "link", "del", self.outer_link(host), check=False)
            sh("ip", "netns", "del", self.namespace(host), check=False)
        sh("ip", "link", "del", BRIDGE, check=False)

    def set_up(self):
        self.tear_down()  # whatever an interrupted run left behind
        sh("ip", "link", "add", BRIDGE, "type", "bridge")
        sh("ip", "addr", "add", f"{HOST_IP}/24", "dev", BRIDGE)
        sh("ip", "link", "set", BRIDGE, "up")
        for host, address in ADDRESSES.items():
            ns, outer, inner = self.namespace(host), self.outer_link(host), f"vs-{host}-c"
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
            sh("ip", "link", "set", outer, "master", BRIDGE, "up")
            sh("ip", "link", "set", inner, "netns", ns)
            sh("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", inner)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "link", "set", inner, "up")

    def exec_prefix(self, host):
        return ["ip", "netns", "exec", self.namespace(host)]

    # Faults.
    def link_down(self, host):
        sh("ip", "link", "set", self.outer_link(host), "down")

    def link_up(self, host):
        sh("ip", "link", "set", self.outer_link(host), "up")

    def partition_from_database(self, host):
        for rule in (["OUTPUT", "-d", DB_IP], ["INPUT", "-s", DB_IP]):
            sh(*self.exec_prefix(host), "iptables", "-A", *rule, "-j", "DROP")

    def heal(self, host):
        sh(*self.exec_prefix(host), "iptables", "-F", check=False)

    def restore(self):
        """Every link up and no partition, whatever the last scenario left."""
        for host in self.hosts:
            self.link_up(host)
            self.heal(host)


class Database:
    """A throwaway cluster in the db namespace, listening on its address only, trusting the test net."""

    def __init__(self, network, port=5432):
        self.network = network
        self.port = port
        self.bin = os.environ.get("VIDEOSPOOL_POSTGRES_BIN") or sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]
        base = "/dev/shm" if os.path.isdir("/dev/shm") else None
        self.directory = tempfile.mkdtemp(prefix="videospool-failover-pg-", dir=base)
        shutil.chown(self.directory, "postgres", "postgres")
        os.chmod(self.directory, 0o700)
        self.data = self.directory + "/data"

    def as_postgres(self, tool, *arguments, in_namespace=True):
        prefix = self.network.exec_prefix("db") if in_namespace else []
        return sh(*prefix, "runuser", "-u", "postgres", "--", f"{self.bin}/{tool}", *arguments)

    def start(self):
        started = time.monotonic()
        self.as_postgres("initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "--no-sync", in_namespace=False)
        with open(self.data + "/pg_hba.conf", "w") as hba:
            hba.write(f"local all all trust\nhost all all {PREFIX}.0/24 trust\n")
        options = " ".join([
            f"-c listen_addresses={DB_IP}", f"-p {self.port}", f"-k {self.directory}",
            "-c fsync=off", "-c full_page_writes=off", "-c max_connections=300", "-c shared_buffers=64MB",
            # As docs/several-hosts.md recommends: a vanished client's sessions end in about 25 s.
            "-c tcp_keepalives_idle=10", "-c tcp_keepalives_interval=5", "-c tcp_keepalives_count=3",
            "-c log_min_messages=warning",
        ])
        self.as_postgres("pg_ctl", "start", "-w", "-t", "60", "-D", self.data, "-l", self.directory + "/server.log", "-o", options)
        return time.monotonic() - started

    def restart(self):
        """`pg_ctl restart -m fast`: every session is ended, as an administrator's restart would."""
        started = time.monotonic()
        self.as_postgres("pg_ctl", "restart", "-w", "-t", "60", "-m", "fast", "-D", self.data, "-l", self.directory + "/server.log")
        return time.monotonic() - started

    def stop(self):
        try:
            self.as_postgres("pg_ctl", "stop", "-w", "-t", "30", "-m", "immediate", "-D", self.data)
        except RuntimeError:
            pass
        shutil.rmtree(self.directory, ignore_errors=True)

    def url(self, database):
        return f"postgresql://postgres@{DB_IP}:{self.port}/{database}?sslmode=disable"

    def psql(self, sql, database="postgres"):
        return sh(f"{self.bin}/psql", "-h", DB_IP, "-p", str(self.port), "-U", "postgres", "-d", database,
                  "-v", "ON_ERROR_STOP=1", "-qAtX", "-F", "\t", "-c", sql)

    def create(self, database):
        self.psql(f'CREATE DATABASE "{database}"')
