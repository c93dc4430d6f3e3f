"""What ``make run`` costs a laptop: CPU of the demo node, its embedded nats-server and the traffic.

One run, same machine, two phases of ``--seconds`` each (after ``--warmup`` seconds), every process
measured from ``/proc/<pid>/stat`` (user + system time over wall time; 100 % = one core):

1. **baseline**: ``equilibrium-node run`` with its embedded nats-server and no traffic (an idle node:
   its housekeeping, pricing ticks on an empty market, KV watches);
2. **demo**: ``equilibrium-node demo`` with the default traffic (3000 drivers pinging every 4 s,
   riders, hotspots), i.e. the node *plus* the traffic model and its publishing in the same process,
   and the nats-server storing ~700 events/s.

Then, in this process, the traffic model alone: the mean CPU time of one 0.5 s step for the default
3000 drivers next to the same step for 30 000 (the model is vectorised: ten times the drivers should
cost far less than ten times the time).

    .venv/bin/python benchmarks/demo.py [--seconds 30] [--warmup 15]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A free TCP port on loopback."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def measure(command: str, seconds: float, warmup: float) -> dict[str, float]:
    """CPU % of the node and its nats-server while ``equilibrium-node <command>`` runs."""
    with tempfile.TemporaryDirectory(prefix="eq-bench-demo-") as tmp:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("EQ_")}
        env.update(EQ_DATA_DIR=f"{tmp}/data", EQ_HTTP=f"127.0.0.1:{port}", EQ_NATS_EMBEDDED_PORT="0",
                   EQ_QUOTE_SECRET="bench", EQ_LOG_LEVEL="warning", EQ_LOG_FORMAT="json")
        log = open(f"{tmp}/node.log", "wb")  # noqa: SIM115 - closed below
        proc = subprocess.Popen([sys.executable, "-m", "equilibrium_node", command], env=env, stdout=log,
                                stderr=subprocess.STDOUT, cwd=tmp)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as resp:
                        if resp.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit(f"{command}: not ready\n{Path(f'{tmp}/node.log').read_text()[-2000:]}")
                time.sleep(0.2)
            nats_pid = int(Path(f"{tmp}/data/nats-server.pid").read_text().strip())
            time.sleep(warmup)
            pids = {"node": proc.pid, "nats-server": nats_pid}
            start = {name: cpu_seconds(pid) for name, pid in pids.items()}
            t0 = time.monotonic()
            time.sleep(seconds)
            wall = time.monotonic() - t0
            out = {name: 100.0 * (cpu_seconds(pid) - start[name]) / wall for name, pid in pids.items()}
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
                text = resp.read().decode()
            out["events"] = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                                if line.startswith("eq_events_ingested_total{"))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
            log.close()
    return out


def model_step_ms(drivers: int, steps: int = 200) -> float:
    """Mean CPU milliseconds of one 0.5 s step of the traffic model (SF outline, default rates)."""
    from equilibrium_node.__main__ import BUNDLED_CONFIG
    from equilibrium_node.demo.traffic import TrafficModel
    from equilibrium_node.geo.land import Land
    from equilibrium_node.settings import load_settings

    settings = load_settings(BUNDLED_CONFIG, env={})
    model = TrafficModel(drivers=drivers, riders_per_min=settings.demo.riders_per_min * drivers / 3000, seed=7,
                         land=Land(settings.map.outline))
    for _ in range(20):
        model.step(0.5)
    t0 = time.process_time()
    for _ in range(steps):
        model.step(0.5)
    return 1000.0 * (time.process_time() - t0) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=15.0)
    args = parser.parse_args()
    print(f"demo benchmark: {os.cpu_count()} CPUs, {args.seconds:g} s per phase after {args.warmup:g} s warm-up")
    rows = [("baseline: idle node (run)", measure("run", args.seconds, args.warmup)),
            ("demo: node + traffic (demo)", measure("demo", args.seconds, args.warmup))]
    print(f"{'':32} {'node CPU %':>10} {'nats CPU %':>10} {'total %':>8} {'events':>9}")
    for name, row in rows:
        print(f"{name:32} {row['node']:10.1f} {row['nats-server']:10.1f} {row['node'] + row['nats-server']:8.1f}"
              f" {row['events']:9.0f}")
    (_, idle), (_, demo) = rows
    extra = demo["node"] + demo["nats-server"] - idle["node"] - idle["nats-server"]
    print(f"the demo's traffic adds {extra:.1f} % of one core (node + nats-server) over the idle node")
    small, large = model_step_ms(3000), model_step_ms(30_000)
    print(f"traffic model, one 0.5 s step: 3 000 drivers {small:.2f} ms, 30 000 drivers {large:.2f} ms "
          f"(x{large / small:.1f} for x10 drivers); 3 000 drivers = {100 * small / 500:.2f} % of a core")


if __name__ == "__main__":
    main()
