"""The OpenAPI document against the running node: schemathesis over every endpoint but the streams.

Runs the ``schemathesis`` command line (the dev extra installs it) against a real node process with
the admin token, so admin operations are fuzzed past their auth check too. Checks: no 5xx, documented
status codes, content types and headers, every response body matches its schema, and schema-violating
requests are rejected. The streaming endpoints (``/api/v1/stream/...``: WebSocket and SSE) are
excluded: a fuzzer cannot hold a stream open, and they are tested by their own suite. The seed is
fixed so that CI is reproducible; set ``EQ_FUZZ_SEED`` to explore others.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.nodeproc import TEST_ADMIN_TOKEN, NodeProcess

CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,"
          "response_schema_conformance,negative_data_rejection")
MIN_CASES = 500


def test_schemathesis_over_every_endpoint(tmp_path):
    report = tmp_path / "schemathesis.json"
    with NodeProcess(tmp_path) as node:
        node.wait_ready()
        _, doc = node.get("/api/v1/openapi.json")
        cli = Path(sys.executable).with_name("schemathesis")
        cmd = [str(cli), "run", f"{node.base_url}/api/v1/openapi.json", "--checks", CHECKS,
               "-H", f"Authorization: Bearer {TEST_ADMIN_TOKEN}", "--max-examples", "40", "--workers", "1",
               "--seed", os.environ.get("EQ_FUZZ_SEED", "20240501"), "--exclude-path-regex", "^/api/v1/stream/",
               "--request-timeout", "10", "--report", "json", "--report-json-path", str(report), "--no-color"]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
        summary = json.loads(report.read_text())
        assert result.returncode == 0 and not summary["failures"] and not summary["errors"], result.stdout[-6000:]
        assert summary["test_cases"]["generated"] >= MIN_CASES, summary["test_cases"]
        # schemathesis leaves out the document's own URL; everything else but the streams is tested
        documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops
                      if not p.startswith("/api/v1/stream/") and p != "/api/v1/openapi.json"}
        assert summary["operations"]["tested"] == len(documented), summary["operations"]
        _, text = node.get("/metrics")
        assert 'status="5xx"' not in text
