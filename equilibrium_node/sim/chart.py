"""``report.png``: pickup ETA, completion and the multiplier riders were quoted, over time, per algorithm.

Three panels sharing the time axis (minutes from the scenario's start, with the local clock time in
the title); the scenario's event window is shaded and pricing outages hatched. A scenario about a
place (the concert) draws that place's riders in thick lines, the whole city in thin dotted ones. matplotlib is imported
here only, with the non-interactive Agg backend, so nothing else of the simulator needs it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from .report import series
from .runner import RunResult, World

#: Colours per algorithm (others cycle through matplotlib's defaults); ``none`` is drawn dashed.
COLOURS = {"none": "#444444", "linear": "#1f77b4", "exponential": "#d62728", "equilibrium": "#2ca02c", "ml": "#9467bd"}


def render(path: Path, results: Sequence[RunResult], world: World) -> None:
    """Draw the comparison to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plan = world.plan
    fig, axes = plt.subplots(3, 1, figsize=(10, 9.5), sharex=True, constrained_layout=True)
    panels = (("eta_min", "mean pickup ETA (min)", 1.0), ("completion", "completion (% of requests)", 100.0),
              ("multiplier", "mean multiplier quoted", 1.0))
    local = bool(world.hot.any())  # a scenario about a place: draw it, and the whole city thinner
    for result in results:
        colour = COLOURS.get(result.algorithm)
        dashed = "--" if result.algorithm == "none" else "-"
        s = series(result, world, focus=local)
        city = series(result, world) if local else None
        for ax, (key, _label, scale) in zip(axes, panels, strict=True):
            ax.plot(s["minute"], s[key] * scale, label=result.algorithm, color=colour, linewidth=1.8,
                    linestyle=dashed)
            if city is not None:
                ax.plot(city["minute"], city[key] * scale, color=colour, linewidth=0.9, linestyle=":", alpha=0.8)
    for ax, (_key, label, _scale) in zip(axes, panels, strict=True):
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        if plan.event is not None:
            ax.axvspan(plan.event.start_s / 60, plan.event.end_s / 60, color="#f2c14e", alpha=0.25, lw=0)
        if plan.outage is not None:
            ax.axvspan(plan.outage.start_s / 60, plan.outage.end_s / 60, fill=False, hatch="//", edgecolor="#999999",
                       lw=0)
    axes[0].set_ylim(bottom=0)
    axes[1].set_ylim(top=102)
    axes[2].set_ylim(bottom=0.95)
    axes[-1].set_xlabel("minutes from the start")
    axes[-1].set_xlim(0, plan.duration_s / 60)
    start = dt.datetime.fromtimestamp(plan.start_epoch, world.tz)
    shaded = {"hot": "shaded: the event", "outage": "shaded and hatched: pricing down", "peak": "shaded: the peak"}
    note = shaded.get(plan.scenario.event, "")
    where = "thick: riders in the venue's cells, dotted: the whole city" if local else "the whole city"
    fig.suptitle(f"{plan.scenario.name}: {plan.scenario.description}\n"
                 f"{start:%a %d %b %Y %H:%M}, {world.spec.model.drivers} drivers, seed {world.spec.seed}; "
                 f"{where}{'; ' + note if note else ''}", fontsize=10)
    axes[0].legend(loc="upper left", ncol=len(results), fontsize=9)
    fig.savefig(path, dpi=110)
    plt.close(fig)


__all__ = ["render"]
