"""What happened in one simulated run: every request's outcome, and per-step totals.

The runner writes here; :mod:`.report` turns it into figures. Requests are rows indexed by their id
(growable columns); intents and the fleet are counted per step. Only the scenario's time counts
(``t >= 0``): the warm-up is not recorded.
"""

from __future__ import annotations

import numpy as np

PENDING, MATCHED, ABANDONED = 0, 1, 2


class _Columns:
    """Columns indexed by row id that grow by doubling."""

    def __init__(self, **dtypes: type) -> None:
        self.size = 0
        self.data = {name: np.zeros(1024, dtype=dt) for name, dt in dtypes.items()}

    def append(self, n: int, **values: np.ndarray) -> np.ndarray:
        """Add ``n`` rows; returns their ids."""
        need = self.size + n
        cap = len(next(iter(self.data.values())))
        if need > cap:
            cap = max(need, 2 * cap)
            for name, arr in self.data.items():
                grown = np.zeros(cap, dtype=arr.dtype)
                grown[: self.size] = arr[: self.size]
                self.data[name] = grown
        ids = np.arange(self.size, need)
        for name, v in values.items():
            self.data[name][ids] = v
        self.size = need
        return ids

    def __getitem__(self, name: str) -> np.ndarray:
        return self.data[name][: self.size]


class Recorder:
    """The log of one run (see the module docstring)."""

    def __init__(self, steps: int, cells: int) -> None:
        self.requests = _Columns(t_request=np.float64, event=np.bool_, focus=np.bool_, multiplier=np.float64,
                                 outcome=np.int8, wait_s=np.float64, eta_s=np.float64, fare_cents=np.int64)
        self.steps = steps
        self.step_t = np.full(steps, np.nan)
        self.intents = np.zeros(steps)
        self.intent_mult = np.zeros(steps)  # sum of the multipliers intents were quoted
        self.event_intents = np.zeros(steps)
        self.event_mult = np.zeros(steps)
        self.focus_intents = np.zeros(steps)
        self.focus_mult = np.zeros(steps)
        self.fleet = np.zeros((steps, 4))  # online, idle, to a pickup, with a rider
        self.cell_intents = np.zeros(cells)
        self.minute_served: list[np.ndarray] = []
        self.logins = 0
        self.logoffs = 0
        self.repositions = 0
        self.earned = 0.0

    def request(self, t: float, event: np.ndarray, focus: np.ndarray, multiplier: np.ndarray) -> np.ndarray:
        """New requests at ``t`` (seconds from the start); returns their ids. ``event``: in the scenario's
        event (window and place), ``focus``: in the place the scenario is about (the venue's cells)."""
        n = len(multiplier)
        return self.requests.append(n, t_request=np.full(n, t), event=event, focus=focus, multiplier=multiplier)

    def matched(self, ids: np.ndarray, wait_s: np.ndarray, eta_s: np.ndarray, fare_cents: np.ndarray) -> None:
        """Requests matched after ``wait_s`` with a pickup ETA of ``eta_s``."""
        ok = ids >= 0
        ids = ids[ok]
        self.requests.data["outcome"][ids] = MATCHED
        self.requests.data["wait_s"][ids] = wait_s[ok]
        self.requests.data["eta_s"][ids] = eta_s[ok]
        self.requests.data["fare_cents"][ids] = fare_cents[ok]

    def abandoned(self, ids: np.ndarray) -> None:
        """Requests whose patience ran out."""
        self.requests.data["outcome"][ids[ids >= 0]] = ABANDONED

    def step(self, k: int, t: float, cells: np.ndarray, multiplier: np.ndarray, event: np.ndarray,
             focus: np.ndarray, fleet: tuple[int, int, int, int]) -> None:
        """Per-step totals: the intents (their cells, quoted multipliers, event and focus flags) and the fleet."""
        self.step_t[k] = t
        self.intents[k] = len(cells)
        self.intent_mult[k] = float(multiplier.sum())
        self.event_intents[k] = float(event.sum())
        self.event_mult[k] = float(multiplier[event].sum())
        self.focus_intents[k] = float(focus.sum())
        self.focus_mult[k] = float(multiplier[focus].sum())
        self.fleet[k] = fleet
        np.add.at(self.cell_intents, cells, 1.0)


__all__ = ["ABANDONED", "MATCHED", "PENDING", "Recorder"]
