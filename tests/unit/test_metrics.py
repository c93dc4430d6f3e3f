"""The Prometheus text rendering."""

from __future__ import annotations

from equilibrium_node.metrics import Metrics, Registry


def test_counter_gauge_histogram_render():
    r = Registry()
    c = r.counter("x_total", "help x", ["kind"])
    c.labels(kind="a").inc(2)
    c.labels(kind='q"uote').inc()
    g = r.gauge("g", "help g")
    g.set(1.5)
    h = r.histogram("h_seconds", "help h", buckets=(0.1, 1.0))
    h.observe(0.05)
    h.observe(0.5)
    h.observe(5)
    text = r.render()
    assert '# TYPE x_total counter' in text
    assert 'x_total{kind="a"} 2' in text
    assert 'x_total{kind="q\\"uote"} 1' in text
    assert "g 1.5" in text
    assert 'h_seconds_bucket{le="0.1"} 1' in text
    assert 'h_seconds_bucket{le="1"} 2' in text
    assert 'h_seconds_bucket{le="+Inf"} 3' in text
    assert "h_seconds_count 3" in text


def test_contract_metric_names_present():
    text = Metrics().render()
    for name in ("eq_events_ingested_total", "eq_events_rejected_total", "eq_stream_applied_seq", "eq_stream_pending",
                 "eq_checkpoint_seq", "eq_ticks_total", "eq_tick_seconds", "eq_cells_active",
                 "eq_surge_updates_total", "eq_quotes_total", "eq_http_request_seconds", "eq_stream_clients",
                 "eq_stream_messages_total", "eq_stream_disconnects_total", "eq_leader", "eq_degraded"):
        assert f"# TYPE {name} " in text, name


def test_gauge_function():
    r = Registry()
    g = r.gauge("fn", "computed")
    g.set_function(lambda: 7)
    assert "fn 7" in r.render()
