"""The progress bar: redrawn in place on a terminal, a few plain lines in a log."""

from __future__ import annotations

import io

from equilibrium_node.analytics.progress import Progress


def test_plain_lines_every_tenth_and_a_done_line():
    out = io.StringIO()
    p = Progress("snapshots", 1000, out=out, tty=False, quiet_s=0)
    for i in range(1, 1001):
        p.update(i)
    p.finish()
    lines = out.getvalue().splitlines()
    assert lines[0] == "export: snapshots 10% (100/1,000)" and lines[-2] == "export: snapshots 90% (900/1,000)"
    assert len(lines) == 10 and lines[-1].startswith("export: snapshots done: 1,000 records in ")
    assert "\r" not in out.getvalue()


def test_quick_jobs_only_say_they_are_done():
    out = io.StringIO()
    p = Progress("audit", 10, out=out, tty=False)
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
    p.finish()  # once only
    assert out.getvalue() == text
