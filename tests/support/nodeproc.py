"""Running ``equilibrium-node`` as a real child process, as an operator would."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .ports import free_port

TEST_SECRET = "test-quote-secret"
TEST_ADMIN_TOKEN = "test-admin-token"


def node_env(data_dir: Path, http_port: int, **extra: str) -> dict[str, str]:
    """A clean environment for a node: no inherited EQ_* variables, an embedded NATS on a random port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EQ_")}
    env.update({
        "EQ_DATA_DIR": str(data_dir), "EQ_HTTP": f"127.0.0.1:{http_port}", "EQ_NATS_EMBEDDED_PORT": "0",
        "EQ_QUOTE_SECRET": TEST_SECRET, "EQ_ADMIN_TOKEN": TEST_ADMIN_TOKEN, "EQ_LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


class NodeProcess:
    """An ``equilibrium-node`` child process with its log in a file."""

    def __init__(self, workdir: Path, *, command: str = "run", args: list[str] | None = None,
                 env: dict[str, str] | None = None, http_port: int | None = None, name: str = "node") -> None:
        self.workdir = workdir
        self.http_port = http_port or free_port()
        self.env = env if env is not None else node_env(workdir / f"{name}-data", self.http_port)
        self.args = [command, *(args or [])]
        self.log_path = workdir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:<port>."""
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> NodeProcess:
        """Spawn the process."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "equilibrium_node", *self.args], env=self.env,
                                     stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir)
        log.close()
        return self

    def log(self) -> str:
        """Everything the process wrote so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def get(self, path: str, timeout: float = 5.0, headers: dict[str, str] | None = None) -> tuple[int, dict | str]:
        """GET a path; returns (status, JSON body or text)."""
        req = urllib.request.Request(self.base_url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, body = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read()
        try:
            return status, json.loads(body)
        except ValueError:
            return status, body.decode(errors="replace")

    def wait_ready(self, timeout: float = 30.0) -> dict:
        """Poll /readyz until 200; fail with the log when the process dies or time runs out."""
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"node exited with {self.proc.returncode}:\n{self.log()[-4000:]}")
            try:
                status, body = self.get("/readyz", timeout=1.0)
                if status == 200:
                    return body  # type: ignore[return-value]
                last = body
            except OSError as exc:
                last = exc
            time.sleep(0.1)
        raise AssertionError(f"node not ready in {timeout}s (last: {last}):\n{self.log()[-4000:]}")

    async def wait_ready_async(self, timeout: float = 30.0) -> dict:
        """:meth:`wait_ready` without blocking the event loop."""
        return await asyncio.to_thread(self.wait_ready, timeout)

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL and reap."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)

    def embedded_pid(self) -> int | None:
        """Pid of the embedded nats-server this node started (from its pid file)."""
        pid_file = Path(self.env["EQ_DATA_DIR"]) / "nats-server.pid"
        try:
            return int(pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def __enter__(self) -> NodeProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()


def pid_alive(pid: int) -> bool:
    """True while a process exists (zombies count as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"
