"""Outcomes per algorithm: the figures riders and drivers feel, as a table, ``report.json`` and series.

Per algorithm (requests made during the scenario, warm-up excluded; a request still waiting within
its patience when the run ends has no outcome yet and is left out):

=========================  ==========================================================================
``completion_rate``        matched requests / requests (0..1); a matched rider is always picked up
``unfulfilled``            requests whose rider gave up before a match (patience)
``mean_eta_min``           mean pickup ETA of matched requests (driver's drive + ``pickup_overhead_s``)
``p90_eta_min``            90th percentile of the same
``mean_wait_min``          request to pickup: time to a match + ETA
``utilisation``            share of online driver time with a rider on board
``pickup_share``           share of online driver time driving to a pickup
``earnings_per_hour``      drivers' share of the fares of trips ended during the run, per online
                           driver-hour (currency of the config)
``rider_spend``            sum of the fares of matched requests (currency units)
``mean_multiplier``        mean multiplier quoted to riders (every trip intent, so demand-weighted)
``multiplier_volatility``  mean absolute minute-to-minute change of a cell's served multiplier,
                           weighted by the cell's riders
``requests``, ``completed``, ``intents``, ``priced_out`` (intents that did not request),
``drivers_online``         (mean), ``event`` (the same figures inside the scenario's event window)
=========================  ==========================================================================
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from .record import ABANDONED, MATCHED, Recorder
from .runner import RunResult, World

#: Keys of the table printed on stdout: (key, header, format).
TABLE = (("completion_rate", "completion", "{:.1%}"), ("unfulfilled", "unfulfilled", "{:d}"),
         ("mean_eta_min", "ETA min", "{:.2f}"), ("p90_eta_min", "ETA p90", "{:.2f}"),
         ("utilisation", "utilisation", "{:.1%}"), ("earnings_per_hour", "earn/drv-h", "{:.2f}"),
         ("rider_spend", "rider spend", "{:,.0f}"), ("mean_multiplier", "mean mult", "{:.2f}"),
         ("multiplier_volatility", "volatility", "{:.3f}"))
EVENT_TABLE = (("requests", "requests", "{:d}"), ("completion_rate", "completion", "{:.1%}"),
               ("unfulfilled", "unfulfilled", "{:d}"), ("mean_eta_min", "ETA min", "{:.2f}"),
               ("p90_eta_min", "ETA p90", "{:.2f}"), ("mean_multiplier", "mean mult", "{:.2f}"))


def _r(value: float, digits: int = 4) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def request_figures(rec: Recorder, mask: np.ndarray | None = None) -> dict[str, Any]:
    """Completion, ETA and spend over the requests selected by ``mask`` (all when None)."""
    outcome = rec.requests["outcome"]
    sel = np.ones(len(outcome), dtype=bool) if mask is None else mask
    matched = sel & (outcome == MATCHED)
    decided = matched | (sel & (outcome == ABANDONED))
    eta = rec.requests["eta_s"][matched] / 60.0
    wait = rec.requests["wait_s"][matched] / 60.0 + eta
    n = int(decided.sum())
    return {
        "requests": n,
        "completed": int(matched.sum()),
        "completion_rate": _r(matched.sum() / n) if n else None,
        "unfulfilled": int((sel & (outcome == ABANDONED)).sum()),
        "mean_eta_min": _r(eta.mean()) if len(eta) else None,
        "p90_eta_min": _r(np.percentile(eta, 90)) if len(eta) else None,
        "mean_wait_min": _r(wait.mean()) if len(wait) else None,
        "rider_spend": _r(rec.requests["fare_cents"][matched].sum() / 100.0, 2),
    }


def volatility(rec: Recorder) -> float:
    """Mean absolute minute-to-minute change of each cell's served multiplier, weighted by its riders."""
    if len(rec.minute_served) < 2 or rec.cell_intents.sum() <= 0:
        return 0.0
    served = np.vstack(rec.minute_served)
    per_cell = np.abs(np.diff(served, axis=0)).mean(axis=0)
    return float((per_cell * rec.cell_intents).sum() / rec.cell_intents.sum())


def summary(result: RunResult, world: World) -> dict[str, Any]:
    """Every figure of one algorithm (the module docstring lists them)."""
    rec, step_s = result.record, world.spec.step_s
    out = request_figures(rec)
    fleet = rec.fleet
    online_s = fleet[:, 0].sum() * step_s
    intents = float(rec.intents.sum())
    out.update({
        "utilisation": _r(fleet[:, 3].sum() * step_s / online_s) if online_s else None,
        "pickup_share": _r(fleet[:, 2].sum() * step_s / online_s) if online_s else None,
        "earnings_per_hour": _r(rec.earned / (online_s / 3600.0), 2) if online_s else None,
        "mean_multiplier": _r(rec.intent_mult.sum() / intents) if intents else None,
        "multiplier_volatility": _r(volatility(rec)),
        "intents": int(intents),
        "priced_out": int(intents) - len(rec.requests["outcome"]),
        "drivers_online": _r(fleet[:, 0].mean(), 1),
        "driver_logins": rec.logins,
        "driver_logoffs": rec.logoffs,
        "repositions": rec.repositions,
    })
    if world.plan.event is not None:
        event = request_figures(rec, rec.requests["event"])
        ev_intents = float(rec.event_intents.sum())
        event["mean_multiplier"] = _r(rec.event_mult.sum() / ev_intents) if ev_intents else None
        event["window_min"] = [_r(world.plan.event.start_s / 60, 2), _r(world.plan.event.end_s / 60, 2)]
        out["event"] = event
    return out


def report(results: Sequence[RunResult], world: World) -> dict[str, dict[str, Any]]:
    """``{"<algorithm>": {figures}}`` in the order run."""
    return {r.algorithm: summary(r, world) for r in results}


def series(result: RunResult, world: World, focus: bool = False) -> dict[str, np.ndarray]:
    """Figures over time by request time (bins of 2 minutes, 1 for runs under an hour) for the chart:
    over the whole city, or with ``focus`` over the cells the scenario is about (the venue)."""
    rec = result.record
    bin_s = 120.0 if world.plan.duration_s >= 3600 else 60.0
    n = max(1, math.ceil(world.plan.duration_s / bin_s))
    sel = rec.requests["focus"] if focus else np.ones(len(rec.requests["t_request"]), dtype=bool)
    t = rec.requests["t_request"][sel]
    b = np.clip(((t - 1e-9) // bin_s).astype(np.int64), 0, n - 1)
    outcome = rec.requests["outcome"][sel]
    decided = np.bincount(b, weights=(outcome != 0).astype(float), minlength=n)
    matched = outcome == MATCHED
    done = np.bincount(b, weights=matched.astype(float), minlength=n)
    eta_sum = np.bincount(b[matched], weights=rec.requests["eta_s"][sel][matched] / 60.0, minlength=n)
    steps_b = np.clip(((rec.step_t - 1e-9) // bin_s).astype(np.int64), 0, n - 1)
    intents = np.bincount(steps_b, weights=rec.focus_intents if focus else rec.intents, minlength=n)
    mult = np.bincount(steps_b, weights=rec.focus_mult if focus else rec.intent_mult, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"minute": (np.arange(n) + 0.5) * bin_s / 60.0,
                "completion": np.where(decided > 0, done / decided, np.nan),
                "eta_min": np.where(done > 0, eta_sum / done, np.nan),
                "multiplier": np.where(intents > 0, mult / intents, np.nan)}


def table(summaries: dict[str, dict[str, Any]], event: bool) -> str:
    """The comparison as aligned text (and the event window's figures when there is one)."""
    def render(cols: tuple, pick) -> list[str]:
        head = ["algorithm"] + [h for _, h, _ in cols]
        rows = [head]
        for name, figures in summaries.items():
            src = pick(figures)
            rows.append([name] + ["-" if src.get(k) is None else f.format(src[k]) for k, _, f in cols])
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        return ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths,
                                                                                              strict=True)))
                for r in rows]

    lines = render(TABLE, lambda f: f)
    if event and all("event" in f for f in summaries.values()):
        window = next(iter(summaries.values()))["event"]["window_min"]
        lines += ["", f"event window (minutes {window[0]:g}-{window[1]:g}):",
                  *render(EVENT_TABLE, lambda f: f["event"])]
    return "\n".join(lines)


def write_json(path: Path, summaries: dict[str, dict[str, Any]]) -> None:
    """``report.json``: the algorithms in the order run, their figures with sorted keys, indented."""
    ordered = {name: {k: figures[k] for k in sorted(figures)} for name, figures in summaries.items()}
    for figures in ordered.values():
        if "event" in figures:
            figures["event"] = {k: figures["event"][k] for k in sorted(figures["event"])}
    path.write_bytes(orjson.dumps(ordered, option=orjson.OPT_INDENT_2) + b"\n")


__all__ = ["report", "request_figures", "series", "summary", "table", "volatility", "write_json"]
