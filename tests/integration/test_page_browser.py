"""The live heatmap page in a real headless Chromium against a running demo node.

The browser is Debian's ``chromium`` driven by Playwright for Python (never ``playwright install``:
the machine cannot download browsers). Without a browser the test is skipped with the reason, unless
``EQUILIBRIUM_BROWSER_REQUIRED=1`` (set by ``.ci/run``), which makes it fail instead.
``EQUILIBRIUM_CHROMIUM`` points at another Chromium binary; ``EQUILIBRIUM_SCREENSHOT`` is where the
screenshot goes (default ``build/screenshots/heatmap.png``; the README's ``docs/heatmap.png`` is a
copy of it). ``EQUILIBRIUM_SCREENSHOT_WARMUP_S`` lets the demo run that long before the screenshot
(the README's was taken with 240, once the first game at Oracle Park has let out); 0 by default.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import msgspec
import pytest

import nats
from equilibrium_node.messages import MSG_ID_HEADER, DemandSignal
from tests.support.api import call
from tests.support.nodeproc import TEST_ADMIN_TOKEN, NodeProcess, node_env
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("EQUILIBRIUM_CHROMIUM", "/usr/bin/chromium")
REQUIRED = os.environ.get("EQUILIBRIUM_BROWSER_REQUIRED") == "1"
SCREENSHOT = Path(os.environ.get("EQUILIBRIUM_SCREENSHOT", ROOT / "build" / "screenshots" / "heatmap.png"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CALM = "#1a9850"  # the colour of 1.0 (serving/heatmap.py COLOR_SCALE)
SPIKE_RIDERS = 80
WARMUP_S = float(os.environ.get("EQUILIBRIUM_SCREENSHOT_WARMUP_S", "0"))


def _browser_or_skip():
    """Playwright's async API, or skip (fail when the browser is required) naming what is missing."""
    missing = []
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        async_playwright = None
        missing.append("the Python package playwright (pip install -e '.[dev]')")
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"Chromium at {CHROMIUM} (apt-get install chromium, or set EQUILIBRIUM_CHROMIUM)")
    if missing:
        reason = "browser test needs " + " and ".join(missing)
        if REQUIRED:
            pytest.fail(reason + " (EQUILIBRIUM_BROWSER_REQUIRED=1)")
        pytest.skip(reason)
    return async_playwright


async def _spike(nats_port: int, lat: float, lng: float) -> None:
    """Riders requesting standard cars at one point, published as rider apps would."""
    nc = await nats.connect(f"nats://127.0.0.1:{nats_port}")
    js = nc.jetstream()
    stamp = time.time()
    for i in range(SPIKE_RIDERS):
        event_id = f"spike-{int(stamp)}-{i}"
        signal = DemandSignal(event_id=event_id, rider_id=f"spike-rider-{i}", lat=lat, lng=lng, kind="request",
                              vehicle_type="standard", ts=stamp)
        await js.publish("eq.sf.location.rider", msgspec.json.encode(signal), headers={MSG_ID_HEADER: event_id})
    await nc.close()


async def _fill(page, token: str) -> str | None:
    return await page.get_attribute(f'path.cell[data-cell="{token}"]', "fill")


async def _wait_fill(page, token: str, predicate, timeout_s: float, what: str) -> str:
    deadline = time.monotonic() + timeout_s
    fill = None
    while time.monotonic() < deadline:
        fill = await _fill(page, token)
        if fill is not None and predicate(fill):
            return fill
        await asyncio.sleep(0.25)
    raise AssertionError(f"{what}: cell {token} still {fill} after {timeout_s}s")


@pytest.mark.timeout(240 + int(WARMUP_S))
async def test_page_shows_live_cells_and_a_demand_spike_changes_a_cells_colour(tmp_path):
    async_playwright = _browser_or_skip()
    nats_port, http_port = free_port(), free_port()
    env = node_env(tmp_path / "data", http_port, EQ_NATS_EMBEDDED_PORT=str(nats_port))
    errors: list[str] = []
    with NodeProcess(tmp_path, command="demo", env=env, http_port=http_port) as node:
        await node.wait_ready_async(timeout=60)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(f"{node.base_url}/?tiles=0")  # no internet here: the offline outline, deterministic
            await page.wait_for_function("document.querySelectorAll('path.cell').length > 30", timeout=90_000)
            assert await page.inner_text("#conn-text") == "live"
            assert await page.locator("#legend .bar span").count() == 8
            assert await page.locator("#vehicle button").all_inner_texts() == ["Standard", "XL", "Premium"]

            # a calm cell with drivers on the west side, far from the demo's hotspots, whose centre is on screen
            # and on land (cells are clipped to the coast), so the pointer reaches it
            target = await page.evaluate("""() => equilibrium.cells()
                .filter(c => c.surge_multiplier === 1 && c.supply_count > 0 && c.polygon.length === 4)
                .map(c => ({cell: c.cell, lat: c.polygon.reduce((s, p) => s + p[0], 0) / 4,
                            lng: c.polygon.reduce((s, p) => s + p[1], 0) / 4}))
                .filter(c => c.lng < -122.45 && c.lat > 37.74)
                .filter(c => {
                    const [x, y] = equilibrium.map.screen(c.lat, c.lng);
                    const hit = document.elementFromPoint(x, y);
                    return hit && hit.dataset && hit.dataset.cell === c.cell;
                })
                .sort((a, b) => a.lng - b.lng)[0]""")
            assert target, "no calm cell on the west side"
            token = target["cell"]
            assert await _fill(page, token) == CALM

            # a demand spike through NATS: the page shows the cell's colour change without reloading
            await _spike(nats_port, target["lat"], target["lng"])
            hot = await _wait_fill(page, token, lambda f: f != CALM, 60, "the spike did not reach the page")
            multiplier = float(await page.get_attribute(f'path.cell[data-cell="{token}"]', "data-multiplier"))
            assert multiplier > 1.0 and hot != CALM

            if WARMUP_S:  # a livelier map for the README (the test proper does not need it)
                await asyncio.sleep(WARMUP_S)

            # the driver view: recommended zones near a point
            await page.click("#driver-pick")
            x, y = await page.evaluate(f"equilibrium.map.screen({target['lat']}, {target['lng']})")
            await page.mouse.click(x + 60, y - 40)
            await page.wait_for_selector("#driver-result .reco li", timeout=15_000)
            assert await page.locator("#overlay circle.driver").count() == 1
            first = await page.inner_text("#driver-result .reco li .earn")
            assert first.endswith("/h")

            # hovering the cell shows multiplier, supply, demand and trend
            await page.mouse.move(x, y)
            await page.wait_for_selector("#hover:not([hidden])", timeout=5_000)
            card = await page.inner_text("#hover")
            assert "×" in card and "supply" in card and "demand" in card and "trend" in card, card
            assert await page.get_attribute("#hover", "data-cell") == token
            if WARMUP_S:  # for the README: the card of the hottest cell on land rather than of the spike
                hottest = await page.evaluate("""() => equilibrium.cells()
                    .map(c => ({c, xy: equilibrium.map.screen(c.polygon.reduce((s, p) => s + p[0], 0) / 4,
                                                              c.polygon.reduce((s, p) => s + p[1], 0) / 4)}))
                    .filter(({c, xy}) => (document.elementFromPoint(xy[0], xy[1]) || {}).dataset?.cell === c.cell)
                    .sort((a, b) => b.c.surge_multiplier - a.c.surge_multiplier)[0].xy""")
                await page.mouse.move(hottest[0], hottest[1])
                await asyncio.sleep(0.5)
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SCREENSHOT))

            # the ops panel: unlock with the admin token, freeze everything to 1.0, back to normal, a signal
            await page.mouse.move(5, 790)
            await page.click("button[data-tab=ops]")
            await page.fill("#ops-token", "wrong")
            await page.click("#ops-login button[type=submit]")
            await page.wait_for_function("document.getElementById('ops-login-error').textContent.length > 0")
            await page.fill("#ops-token", TEST_ADMIN_TOKEN)
            await page.click("#ops-login button[type=submit]")
            await page.wait_for_selector("#ops:not([hidden])", timeout=10_000)
            assert await page.locator("#zones-table tbody tr").count() == 11
            assert await page.get_attribute("#ops-link-analytics", "href") == "/analytics"
            await page.click("#emergency button[data-mode=freeze]")
            await _wait_fill(page, token, lambda f: f == CALM, 30, "freeze did not reach the page")
            assert call(node.base_url, "GET", "/api/v1/admin/rules",
                        headers={"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"})[1]["emergency_mode"] == "freeze"
            await page.click("#emergency button[data-mode=off]")
            await page.wait_for_function(
                "document.querySelector('#emergency button[data-mode=off]').getAttribute('aria-checked') === 'true'")
            await page.select_option("#signal-zone", "sunset")
            await page.fill("#signal-reason", "fog")
            await page.click("#signal-form button[type=submit]")
            await page.wait_for_selector("#signals li[data-signal]", timeout=10_000)
            assert "fog" in await page.inner_text("#signals")
            await page.click("#signals button[data-end]")
            await page.wait_for_selector("#signals li[data-signal]", state="detached", timeout=10_000)

            # another vehicle type, and the SSE transport in a second tab
            await page.click("#vehicle button[data-vt=xl]")
            await page.wait_for_function("equilibrium.state.vehicleType === 'xl' && equilibrium.cells().length > 0",
                                         timeout=30_000)
            # ... on a phone: SSE, a touch screen, a tap pins a cell's card
            phone = await browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
            sse = await phone.new_page()
            sse.on("pageerror", lambda exc: errors.append(str(exc)))
            await sse.goto(f"{node.base_url}/?tiles=0&transport=sse")
            await sse.wait_for_function("document.querySelectorAll('path.cell').length > 0", timeout=30_000)
            assert await sse.evaluate("equilibrium.state.transport") == "sse"
            spot = await sse.evaluate("""() => equilibrium.cells().map(c => ({c, xy: equilibrium.map.screen(
                    c.polygon.reduce((s, p) => s + p[0], 0) / 4, c.polygon.reduce((s, p) => s + p[1], 0) / 4)}))
                .find(({c, xy}) => (document.elementFromPoint(xy[0], xy[1]) || {}).dataset?.cell === c.cell)""")
            await sse.tap("#map-wrap", position={"x": spot["xy"][0], "y": spot["xy"][1]})
            await sse.wait_for_selector("#hover.pinned", timeout=5_000)
            assert await sse.get_attribute("#hover", "data-cell") == spot["c"]["cell"]
            assert "supply" in await sse.inner_text("#hover")
            await browser.close()
        assert node.terminate() == 0
    assert not errors, errors
    assert SCREENSHOT.is_file()  # noqa: ASYNC240 - the test is over
    print(f"\nscreenshot: {SCREENSHOT}")
