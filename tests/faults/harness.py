"""Real product processes for fault scenarios, and the means to hurt them.

- `Service`: one `manage.py` subprocess (a Dramatiq worker or the dispatcher) restarted whenever
  it exits, like a container with `restart: always`, until the test stops it.
- `Cluster`: the workers and dispatchers of one scenario, with the environment they share.
- `TcpProxy`: a forwarder in front of Postgres or RabbitMQ. Stopping it drops every connection
  and refuses new ones, which is what the product sees when the server goes down, without
  touching the servers other people on this machine are using.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]

# Log lines that say a freshly started process is doing its job.
WORKER_READY = "Worker process is ready for action."
DISPATCHER_READY = "reconcile --watch: every"


def with_port(url: str, port: int) -> str:
    """`url` with its port replaced (to point a process at a proxy)."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit(":", 1)[0] if parts.port else parts.netloc
    return urlunsplit(parts._replace(netloc=f"{netloc}:{port}"))


class TcpProxy:
    """Forward 127.0.0.1:<port> to a server; `stop()` cuts it, `start()` brings it back on the
    same port (so the product's configured address stays valid across the outage)."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> "TcpProxy":
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def stop(self) -> None:
        """Close the listening socket and every forwarded connection."""
        listener, self._listener = self._listener, None
        if listener is not None:
            _close(listener)
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            _close(sock)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # closed by stop()
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if self._listener is not listener:  # stopped meanwhile
                    _close(client)
                    _close(upstream)
                    return
                self._sockets.update((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            _close(sock)
        with self._lock:
            self._sockets.difference_update((src, dst))


def _close(sock: socket.socket) -> None:
    """Close a socket that another thread may be blocked on (shutdown wakes it up)."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class Service:
    """A supervised subprocess, in its own process group so a kill reaches its children."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path, ready: str):
        self.name, self.argv, self.env = name, argv, env
        self.log_path, self.ready_marker = log_path, ready
        self.exit_codes: list[int] = []
        self._proc: subprocess.Popen | None = None
        self._log_offset = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # no new incarnation once stopping
        self._down_until = 0.0  # monotonic time before which it is not restarted
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._supervise, name=name, daemon=True)

    def start(self) -> "Service":
        self._thread.start()
        self._started.wait(10)
        return self

    @property
    def restarts(self) -> int:
        return len(self.exit_codes)

    def _supervise(self) -> None:
        while True:
            with self._lock, self.log_path.open("ab") as log:
                if self._stopping.is_set():
                    return
                self._log_offset = log.tell()
                proc = self._proc = subprocess.Popen(
                    self.argv,
                    cwd=ROOT,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            self._started.set()
            code = proc.wait()
            if self._stopping.is_set():
                return
            self.exit_codes.append(code)
            time.sleep(max(0.2, self._down_until - time.monotonic()))

    def is_ready(self) -> bool:
        """The current incarnation logged its ready line."""
        with self.log_path.open("rb") as log:
            log.seek(self._log_offset)
            return self.ready_marker.encode() in log.read()

    def kill(self, sig: int = signal.SIGKILL, down_for: float = 0) -> None:
        """Signal the current incarnation's whole process group; the supervisor restarts it
        (not before `down_for` seconds, if given)."""
        self._down_until = time.monotonic() + down_for
        proc = self._proc
        if proc is not None and proc.poll() is None:
            _killpg(proc.pid, sig)

    def terminate(self) -> None:
        """Stop supervising and ask for a clean shutdown (SIGTERM)."""
        with self._lock:
            self._stopping.set()
        self.kill(signal.SIGTERM)

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM, then SIGKILL whatever is left of the process group after `timeout`."""
        self.terminate()
        proc = self._proc
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout)
            _killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        self._thread.join(5)

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return f"--- {self.name} ({self.log_path}) ---\n" + "\n".join(text)


def _killpg(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


@dataclass
class Cluster:
    """The background processes of one scenario: Dramatiq workers (`rundramatiq`) and
    dispatchers (`reconcile --watch`), all sharing `env`."""

    env: dict[str, str]
    log_dir: Path
    services: list[Service] = field(default_factory=list)
    proxies: list[TcpProxy] = field(default_factory=list)

    def proxy(self, target_port: int) -> TcpProxy:
        """A proxy to a server, up until the cluster stops (its processes may need it to shut
        down cleanly)."""
        proxy = TcpProxy(target_port).start()
        self.proxies.append(proxy)
        return proxy

    def _start(self, kind: str, argv: list[str], ready: str) -> Service:
        name = f"{kind}{sum(s.name.startswith(kind) for s in self.services) + 1}"
        command = [sys.executable, "manage.py", *argv]
        service = Service(name, command, dict(self.env), self.log_dir / f"{name}.log", ready)
        self.services.append(service)
        return service.start()

    def worker(self) -> Service:
        """A Dramatiq worker: one process, four threads, on the test queue."""
        argv = ["rundramatiq", "--processes", "1", "--threads", "4"]
        argv += ["--queues", self.env["FOLLOWUPS_QUEUE"], "--worker-shutdown-timeout", "5000"]
        return self._start("worker", argv, WORKER_READY)

    def dispatcher(self) -> Service:
        """The dispatcher loop, a pass every half second."""
        return self._start(
            "dispatcher", ["reconcile", "--watch", "--interval", "0.5"], DISPATCHER_READY
        )

    def wait_ready(self, timeout: float = 60) -> None:
        """Until every service's current incarnation is up (startup takes a few seconds)."""
        deadline = time.monotonic() + timeout
        while not all(s.is_ready() for s in self.services):
            if time.monotonic() > deadline:
                raise AssertionError(f"services not ready in {timeout} s\n{self.log_tails()}")
            time.sleep(0.1)

    def stop(self) -> None:
        for service in self.services:  # all shut down in parallel
            service.terminate()
        for service in self.services:
            service.stop()
        for proxy in self.proxies:
            proxy.stop()

    def log_tails(self, lines: int = 30) -> str:
        return "\n".join(s.log_tail(lines) for s in self.services)

    def grep(self, text: str) -> int:
        """How many times `text` appears in the logs of all services (all incarnations)."""
        return sum(s.log_path.read_text(errors="replace").count(text) for s in self.services)
