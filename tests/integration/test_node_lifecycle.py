"""A real node process: health over HTTP, graceful stop, and recovery after SIGKILL."""

from __future__ import annotations

import time

from tests.support.nodeproc import NodeProcess, pid_alive


def test_health_endpoints_over_http(tmp_path):
    with NodeProcess(tmp_path) as node:
        ready = node.wait_ready()
        assert ready["ready"] is True and ready["nats_connected"] is True and ready["role"] in ("leader", "follower")
        status, body = node.get("/healthz")
        assert status == 200 and body["status"] == "ok"
        status, text = node.get("/metrics")
        assert status == 200 and "eq_leader" in text and "# TYPE eq_http_request_seconds histogram" in text
        status, doc = node.get("/api/v1/openapi.json")
        assert status == 200 and doc["openapi"].startswith("3.1")
        assert {"/healthz", "/readyz", "/metrics"} <= set(doc["paths"])
        status, err = node.get("/no/such/path")
        assert status == 404 and err["error"]["code"] == "not_found"
        # the request metrics saw the calls above
        _, text = node.get("/metrics")
        assert 'eq_http_request_seconds_count{route="/healthz"} 1' in text


def test_sigterm_stops_node_and_embedded_server(tmp_path):
    node = NodeProcess(tmp_path).start()
    try:
        node.wait_ready()
        nats_pid = node.embedded_pid()
        assert nats_pid and pid_alive(nats_pid)
        started = time.monotonic()
        code = node.terminate(timeout=15)
        assert code == 0, node.log()[-3000:]
        assert time.monotonic() - started < 10
        deadline = time.monotonic() + 5
        while pid_alive(nats_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not pid_alive(nats_pid), "embedded nats-server left running"
        assert "node_stopped" in node.log()
    finally:
        node.kill()


def test_restart_after_sigkill_copes_with_leftovers(tmp_path):
    node = NodeProcess(tmp_path).start()
    node.wait_ready()
    nats_pid = node.embedded_pid()
    node.kill()
    # the embedded server dies with its parent (PDEATHSIG); if it did not, the next start stops it
    again = NodeProcess(tmp_path, env=node.env, http_port=node.http_port).start()
    try:
        ready = again.wait_ready()
        assert ready["ready"] is True
        assert nats_pid and not pid_alive(nats_pid)
        assert again.terminate() == 0
    finally:
        again.kill()


def test_orphan_server_from_a_killed_node_is_stopped(tmp_path):
    """Simulate a node killed so hard its server survived: a live server owns the data dir's pid file."""
    import subprocess

    from equilibrium_node.bus.embedded import find_binary

    node = NodeProcess(tmp_path)
    data = tmp_path / "node-data"
    (data / "ports").mkdir(parents=True)
    orphan = subprocess.Popen([find_binary(), "-js", "-sd", str(data / "jetstream"), "-a", "127.0.0.1", "-p", "-1",
                               "--pid", str(data / "nats-server.pid")], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 5
        while not (data / "nats-server.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        node.start()
        node.wait_ready()
        orphan.wait(10)
        assert "orphan_nats_server_stopped" in node.log()
        assert node.terminate() == 0
    finally:
        if orphan.poll() is None:
            orphan.kill()
        node.kill()
