"""Hosts on one machine for the fault suite: PostgreSQL in a Linux network namespace of its
own, each worker "host" in another, joined by veth pairs, so a host can be cut off, frozen or
killed without touching the others. Needs root and ``ip``; PostgreSQL from Debian's package."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


def available() -> str | None:
    """Why the suite cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if shutil.which("ip") is None:
        return "needs iproute2's ip"
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        return "needs PostgreSQL's server (.ci/start_postgres.sh installs it)"
    return None


def _run(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


@dataclass
class Network:
    """A database namespace and ``n_hosts`` worker namespaces; host 0 is this process's own
    namespace (the test reads the study through it)."""

    n_hosts: int
    tag: str = field(default_factory=lambda: f"{os.getpid() % 100000}")
    port: int = 5432
    data: Path | None = None
    _bin: str = ""

    @property
    def db_ns(self) -> str:
        return f"hpo{self.tag}db"

    def host_ns(self, host: int) -> str | None:
        return None if host == 0 else f"hpo{self.tag}h{host}"

    def _link(self, host: int, side: str) -> str:
        return f"h{self.tag}{side}{host}"  # at most 15 characters

    def address(self, host: int) -> str:
        """The database's address as seen from ``host``."""
        return f"10.88.{host}.1"

    def url(self, host: int, db: str = "hpo") -> str:
        return f"postgresql://postgres@{self.address(host)}:{self.port}/{db}"

    def up(self) -> Network:
        _run("ip", "netns", "add", self.db_ns)
        _run("ip", "-n", self.db_ns, "link", "set", "lo", "up")
        for host in range(self.n_hosts + 1):
            ns = self.host_ns(host)
            if ns:
                _run("ip", "netns", "add", ns)
                _run("ip", "-n", ns, "link", "set", "lo", "up")
            db_end, host_end = self._link(host, "d"), self._link(host, "w")
            _run("ip", "link", "add", db_end, "type", "veth", "peer", "name", host_end)
            _run("ip", "link", "set", db_end, "netns", self.db_ns)
            if ns:
                _run("ip", "link", "set", host_end, "netns", ns)
            _run("ip", "-n", self.db_ns, "addr", "add", f"10.88.{host}.1/24", "dev", db_end)
            _run("ip", "-n", self.db_ns, "link", "set", db_end, "up")
            where = ["-n", ns] if ns else []
            _run("ip", *where, "addr", "add", f"10.88.{host}.2/24", "dev", host_end)
            _run("ip", *where, "link", "set", host_end, "up")
        self._start_postgres()
        return self

    def _start_postgres(self) -> None:
        initdb = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))[-1]
        self._bin = str(Path(initdb).parent)
        self.data = Path(tempfile.mkdtemp(prefix="hpo-faults-pg."))
        shutil.chown(self.data, "postgres", "postgres")
        as_pg = ["runuser", "-u", "postgres", "--"]
        _run(*as_pg, f"{self._bin}/initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")
        with open(self.data / "pg_hba.conf", "a", encoding="utf-8") as hba:
            hba.write("host all all 10.88.0.0/16 trust\n")
        self.pg("start")
        _run(*as_pg, f"{self._bin}/createdb", "-h", self.address(0), "-U", "postgres", "hpo")

    def pg(self, action: str, *extra: str) -> None:
        """``pg_ctl ACTION`` on the server, inside its namespace (start, stop, restart)."""
        options = f"-c listen_addresses=* -p {self.port} -k {self.data} -c max_connections=100"
        cmd = ["ip", "netns", "exec", self.db_ns, "runuser", "-u", "postgres", "--"]
        cmd += [f"{self._bin}/pg_ctl", "-D", str(self.data), "-l", f"{self.data}/log", "-w"]
        cmd += [action, *extra]
        if action in ("start", "restart"):
            cmd += ["-o", options]
        _run(*cmd)

    def cut(self, host: int) -> None:
        """Cut ``host`` off the database: its link goes down on the database's side."""
        _run("ip", "-n", self.db_ns, "link", "set", self._link(host, "d"), "down")

    def heal(self, host: int) -> None:
        _run("ip", "-n", self.db_ns, "link", "set", self._link(host, "d"), "up")

    def spawn(self, host: int, *argv: str, env: dict[str, str] | None = None) -> Worker:
        """Run ``hpo ARGV`` on ``host`` (its own process group, so the host can be killed)."""
        ns = self.host_ns(host)
        prefix = ["ip", "netns", "exec", ns] if ns else []
        log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - the Worker owns it
            prefix=f"hpo-faults-host{host}.", suffix=".log", delete=False
        )
        proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "hpo.cli", *argv],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
            start_new_session=True,
        )
        return Worker(host, proc, Path(log.name))

    def down(self) -> None:
        if self.data is not None:
            stop = [f"{self._bin}/pg_ctl", "-D", str(self.data), "-m", "immediate", "stop"]
            subprocess.run(
                ["ip", "netns", "exec", self.db_ns, "runuser", "-u", "postgres", "--", *stop],
                capture_output=True,
            )
            shutil.rmtree(self.data, ignore_errors=True)
        for host in range(self.n_hosts + 1):
            subprocess.run(["ip", "link", "del", self._link(host, "w")], capture_output=True)
            ns = self.host_ns(host)
            if ns:
                subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.db_ns], capture_output=True)


@dataclass
class Worker:
    """One ``hpo`` process on a host."""

    host: int
    proc: subprocess.Popen[bytes]
    log: Path

    def signal(self, signum: signal.Signals) -> None:
        os.killpg(self.proc.pid, signum)

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            raise AssertionError(
                f"host {self.host}'s worker hung: {self.output()[-3000:]}"
            ) from None

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def wait_until(predicate, timeout: float = 300.0, every: float = 0.2) -> None:
    """Poll ``predicate`` until it is true; an AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception:  # the database is restarting, the study not made yet
            pass
        time.sleep(every)
    raise AssertionError("condition not reached in time")
