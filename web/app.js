// Equilibrium's live surge map: the page at `/`. Plain ES modules served by the node (no build step).
//
// Start-up: GET /api/v1/region (zones, outline, first view, vehicle types, colour scale), draw the map,
// subscribe to the live stream with the visible viewport, and keep the cells current from its
// snapshot and deltas. Query parameters: ?vehicle_type=xl, ?transport=sse, ?tiles=0 (never try
// online tiles), ?token= (app token, when the node requires one).

import { DriverView } from "./driver.js";
import { centreOf, inGeometry, num, times, trendLabel } from "./geo.js";
import { MapView } from "./mapview.js";
import { OpsPanel } from "./ops.js";
import { HeatStream } from "./stream.js";

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const SUBSCRIBE_DEBOUNCE_MS = 200;
const VIEW_MARGIN = 0.15; // subscribe a little beyond the edges: a small pan needs no new snapshot

const state = {
  region: null, vehicleType: null, degraded: false, connection: "connecting", transport: "ws",
  rev: null, lastUpdated: null, pinned: null, hovered: null, zoneOfCell: new Map(),
};

function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

let toastTimer = 0;
function toast(text) {
  const t = $("toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 4000);
}

// legend, vehicle types, summary ---------------------------------------------------------------------
function buildLegend(scale) {
  const bar = scale.map((s) => `<span style="background:${s.color}"></span>`).join("");
  const ticks = scale.map((s, i) => `<span>${num(s.min_multiplier)}${i === scale.length - 1 ? "+" : ""}</span>`).join("");
  $("legend").innerHTML = `<div class="bar">${bar}</div><div class="ticks">${ticks}</div>
    <div class="caption">surge multiplier of each cell, live · dashed lines: zones</div>`;
}

/** "standard" -> "Standard", "xl" -> "XL" (short names are acronyms), "premium_plus" -> "Premium plus". */
function vehicleLabel(vt) {
  const words = vt.replace(/_/g, " ");
  return vt.length <= 3 ? words.toUpperCase() : words[0].toUpperCase() + words.slice(1);
}

function buildVehicles(types, onPick) {
  const box = $("vehicle");
  box.innerHTML = types.map((vt) => `<button type="button" role="radio" data-vt="${esc(vt)}">${esc(vehicleLabel(vt))}</button>`).join("");
  for (const b of box.querySelectorAll("button")) b.onclick = () => onPick(b.dataset.vt);
}

function markVehicle(vt) {
  for (const b of $("vehicle").querySelectorAll("button")) b.setAttribute("aria-checked", String(b.dataset.vt === vt));
}

function renderConnection() {
  const pill = $("conn");
  const live = state.connection === "live";
  pill.dataset.state = live && state.degraded ? "degraded" : state.connection;
  $("conn-text").textContent = live ? (state.degraded ? "live · degraded" : "live") : state.connection;
  pill.title = `transport: ${state.transport}`;
}

function renderSummary(map) {
  let surging = 0;
  let max = 1;
  for (const { cell } of map.cells.values()) {
    if (cell.surge_multiplier > 1) surging++;
    max = Math.max(max, cell.surge_multiplier);
  }
  const when = state.lastUpdated ? new Date(state.lastUpdated).toLocaleTimeString() : "–";
  $("summary").innerHTML = `<b>${map.cells.size}</b> cells in view · <b>${surging}</b> surging`
    + (surging ? ` · max <b>${times(max)}</b>` : "") + `<br>updated ${esc(when)} · rev ${state.rev ?? "–"}`;
  document.body.dataset.cells = String(map.cells.size);
}

// hover / tap card ----------------------------------------------------------------------------------
function zoneName(cell) {
  let name = state.zoneOfCell.get(cell.cell);
  if (name === undefined) {
    const [lat, lng] = centreOf(cell.polygon);
    const zone = state.region.zones.find((z) => inGeometry(lat, lng, z.geometry));
    name = zone ? zone.zone_name : "Rest of region";
    state.zoneOfCell.set(cell.cell, name);
  }
  return name;
}

function showCard(cell, x, y, pinned = false) {
  const card = $("hover");
  card.innerHTML = `
    <div class="zone">${esc(zoneName(cell))} · ${esc(state.vehicleType)}</div>
    <div class="mult"><span class="swatch big" style="background:${esc(cell.color)}"></span>${times(cell.surge_multiplier)}</div>
    <dl>
      <dt>supply</dt><dd data-k="supply">${num(cell.supply_count)} drivers</dd>
      <dt>demand</dt><dd data-k="demand">${num(cell.demand_count)}</dd>
      <dt>demand level</dt><dd>${esc(cell.demand_level.replace("_", " "))}</dd>
      <dt>trend</dt><dd data-k="trend" class="trend-${esc(cell.trend)}">${trendLabel(cell.trend)}</dd>
    </dl>
    <div class="cellid">cell ${esc(cell.cell)}</div>`;
  card.hidden = false;
  card.classList.toggle("pinned", pinned);
  card.dataset.cell = cell.cell;
  const w = card.offsetWidth;
  const h = card.offsetHeight;
  const panel = $("panel");
  const edge = !panel.hidden && innerWidth >= 760 ? panel.getBoundingClientRect().left - 8 : innerWidth;
  const left = x + 18 + w > edge ? x - w - 18 : x + 18; // never over the side panel
  const top = Math.min(Math.max(8, y - h / 2), innerHeight - h - 8);
  card.style.left = `${Math.max(8, left)}px`;
  card.style.top = `${top}px`;
}

function hideCard() {
  if (state.pinned) {
    showCard(state.pinned.cell, state.pinned.x, state.pinned.y, true);
    return;
  }
  $("hover").hidden = true;
}

function refreshCard(map) {
  const shown = $("hover").hidden ? null : $("hover").dataset.cell;
  if (!shown) return;
  const entry = map.cells.get(shown);
  if (!entry) return;
  const card = $("hover");
  const x = parseFloat(card.style.left);
  const y = parseFloat(card.style.top);
  if (state.pinned && state.pinned.cell.cell === shown) state.pinned.cell = entry.cell;
  showCard(entry.cell, x - 18, y + card.offsetHeight / 2, card.classList.contains("pinned"));
}

function select(map, cell, x, y) {
  for (const p of map.layers.cells.querySelectorAll("path.selected")) p.classList.remove("selected");
  if (!cell) {
    state.pinned = null;
    $("hover").hidden = true;
    return;
  }
  state.pinned = { cell, x, y };
  map.cells.get(cell.cell)?.path.classList.add("selected");
  showCard(cell, x, y, true);
}

// panel ---------------------------------------------------------------------------------------------
function bindPanel() {
  const tabs = document.querySelectorAll(".tabs [role=tab]");
  for (const tab of tabs) {
    tab.onclick = () => {
      for (const t of tabs) t.setAttribute("aria-selected", String(t === tab));
      $("tab-driver").hidden = tab.dataset.tab !== "driver";
      $("tab-ops").hidden = tab.dataset.tab !== "ops";
    };
  }
  $("panel-toggle").onclick = () => { $("panel").hidden = true; $("panel-open").hidden = false; };
  $("panel-open").onclick = () => { $("panel").hidden = false; $("panel-open").hidden = true; };
}

// start ---------------------------------------------------------------------------------------------
async function main() {
  const resp = await fetch("/api/v1/region");
  const region = await resp.json();
  state.region = region;
  state.vehicleType = region.vehicle_types.includes(params.get("vehicle_type"))
    ? params.get("vehicle_type") : region.vehicle_types[0];
  document.title = `Equilibrium · ${region.region_name}`;
  $("region-name").textContent = `${region.region_name} · live surge map`;
  buildLegend(region.color_scale);
  bindPanel();

  let subscribeTimer = 0;
  let driver = null;
  const map = new MapView($("map-wrap"), {
    onViewChange: () => {
      clearTimeout(subscribeTimer);
      subscribeTimer = setTimeout(subscribe, SUBSCRIBE_DEBOUNCE_MS);
    },
    onCellHover: (cell, x, y) => { state.hovered = cell.cell; showCard(cell, x, y); },
    onCellLeave: () => { state.hovered = null; hideCard(); },
    onClick: ({ lat, lng, cell, event }) => {
      if (driver && driver.handleClick(lat, lng)) {
        select(map, null);
        return;
      }
      select(map, cell, event.clientX, event.clientY);
    },
  });
  map.setRegion(region);

  const stream = new HeatStream({
    onSnapshot: (msg) => {
      map.replaceCells(msg.cells);
      state.rev = msg.rev;
      state.lastUpdated = msg.last_updated;
      renderSummary(map);
      refreshCard(map);
    },
    onDelta: (msg) => {
      map.updateCells(msg.cells, msg.removed);
      state.rev = msg.rev;
      if (msg.last_updated) state.lastUpdated = msg.last_updated;
      renderSummary(map);
      refreshCard(map);
    },
    onStatus: (msg) => { state.degraded = msg.degraded; renderConnection(); },
    onState: (connection, transport) => { state.connection = connection; state.transport = transport; renderConnection(); },
    onError: (err) => {
      if (err.code === "too_many_cells") toast("Too many cells in view: zoom in.");
      else toast(`Stream: ${err.message}`);
    },
  }, { transport: params.get("transport") === "sse" ? "sse" : "ws", token: params.get("token") || "" });

  function subscribe() {
    stream.subscribe(map.bounds(VIEW_MARGIN), map.zoomLevel(), state.vehicleType);
  }

  function pickVehicle(vt) {
    if (vt === state.vehicleType) return;
    state.vehicleType = vt;
    markVehicle(vt);
    map.clearCells();
    select(map, null);
    renderSummary(map);
    subscribe();
    driver.setVehicleType(vt);
  }

  buildVehicles(region.vehicle_types, pickVehicle);
  markVehicle(state.vehicleType);
  driver = new DriverView(map, region, { vehicleType: state.vehicleType, currency: region.currency });
  const ops = new OpsPanel(map, region);
  subscribe();
  renderSummary(map);
  // for tests and the curious: the map's state, read-only by convention
  window.equilibrium = { map, stream, state, driver, ops, cells: () => [...map.cells.values()].map((e) => e.cell) };
}

main().catch((err) => {
  console.error(err);
  toast(`Cannot start: ${err.message}`);
});
