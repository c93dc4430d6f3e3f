"""The progress bar: redrawn in place on a terminal, a few plain lines in a log."""

from __future__ import annotations

import io

from equilibrium_node.progress import Progress


def test_plain_lines_every_tenth_and_a_done_line():
    out = io.StringIO()
    p = Progress("snapshots", 1000, out=out, tty=False, quiet_s=0, prefix="export")
    for i in range(1, 1001):
        p.update(i)
    p.finish()
    lines = out.getvalue().splitlines()
    assert lines[0] == "export: snapshots 10% (100/1,000)" and lines[-2] == "export: snapshots 90% (900/1,000)"
    assert len(lines) == 10 and lines[-1].startswith("export: snapshots done: 1,000 records in ")
    assert "\r" not in out.getvalue()


def test_quick_jobs_only_say_they_are_done():
    out = io.StringIO()
    p = Progress("audit", 10, out=out, tty=False, prefix="export")
    for i in range(1, 11):
        p.update(i)
    p.finish("2 unreadable skipped")
    assert out.getvalue().splitlines() == [out.getvalue().strip()]
    assert "done: 10 records" in out.getvalue() and "(2 unreadable skipped)" in out.getvalue()


def test_terminal_bar_redraws_in_place():
    out = io.StringIO()
    p = Progress("snapshots", 200, out=out, tty=True)
    p.update(100)
    p.finish()
    text = out.getvalue()
    assert text.startswith("\rsnapshots  [############------------]  50%")
    assert "[########################] 100%" in text and text.endswith("snapshots: 100 records in 0.0 s\n")
    assert "\x1b[K" in text  # each redraw clears what a longer line left
    p.finish()  # once only
    assert out.getvalue() == text


def test_detail_follows_the_count_and_quiet_shows_nothing():
    out = io.StringIO()
    p = Progress("simulate", 200, out=out, tty=False, quiet_s=0, unit="steps")
    for k in range(1, 201):
        p.update(k, f"{'none' if k <= 100 else 'linear'} {k % 100 or 100}/100 min")
    p.finish()
    lines = out.getvalue().splitlines()
    assert lines[4] == "simulate 50% (100/200)  none 100/100 min"
    assert lines[-1].startswith("simulate done: 200 steps in ") and len(lines) == 10
    quiet = io.StringIO()
    q = Progress("simulate", 10, out=quiet, quiet=True)
    q.update(10, "linear")
    q.finish()
    assert quiet.getvalue() == ""
