"""100k online drivers over 50k cells stay under 300 MB RSS; idle drivers and empty cells are evicted.

Measured in a child process (its own peak RSS, VmHWM) that runs the real decode, S2 and state code and
also encodes a checkpoint of the full state.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_memory_of_100k_drivers_over_50k_cells_and_eviction():
    out = subprocess.run([sys.executable, "-m", "tests.support.market_memory"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["online"]["drivers"] == 100_000
    assert result["online"]["cells"] == 50_000
    assert result["counted"] == 100_000  # every driver counts in exactly one cell
    assert result["peak_mb"] < 300, result
    # silent for the TTL: nobody counts any more, cells with only drivers are evicted (demand keeps 20k)
    assert result["after_ttl"]["live_drivers"] == 0 and result["after_ttl"]["cells"] == 20_000
    # silent past the idle limit: drivers forgotten, every cell evicted
    assert result["after_idle"] == {"drivers": 0, "riders": 0, "cells": 0, "live_drivers": 0}
