// The map: a small SVG renderer on Web Mercator with pan/zoom, an offline land outline, optional online
// tiles, zone outlines, heatmap cells and an overlay (the driver view). No library, no build step.

import { TILE, fitZoom, polygonsOf, project, unproject } from "./geo.js";

const SVG = "http://www.w3.org/2000/svg";
const MIN_ZOOM = 8;
const MAX_ZOOM = 17;
const TILE_PROBE_MS = 4000;

function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

/** Fill opacity by multiplier: calm cells stay light so the surging ones stand out. */
export function cellOpacity(multiplier) {
  if (multiplier < 1.05) return 0.22;
  if (multiplier < 1.3) return 0.5;
  if (multiplier < 2) return 0.66;
  return 0.78;
}

export class MapView {
  constructor(wrap, handlers = {}) {
    this.wrap = wrap;
    this.svg = wrap.querySelector("#map");
    this.layers = {
      land: this.svg.querySelector("#land"), zones: this.svg.querySelector("#zones"),
      cells: this.svg.querySelector("#cells"), overlay: this.svg.querySelector("#overlay"),
    };
    this.tilesDiv = wrap.querySelector("#tiles");
    this.attribution = wrap.querySelector("#attribution");
    this.handlers = handlers;
    this.center = [37.77, -122.42];
    this.zoom = 12;
    this.region = null;
    this.cells = new Map(); // token -> {cell, path}
    this.tiles = null; // {url, attribution} once a probe tile loaded
    this.tileImgs = new Map();
    this.driver = null;
    this._frame = 0;
    this._bindInput();
    new ResizeObserver(() => this.changed()).observe(wrap);
  }

  get width() { return this.wrap.clientWidth; }
  get height() { return this.wrap.clientHeight; }

  // view -----------------------------------------------------------------------------------------
  /** Screen position of (lat, lng). */
  screen(lat, lng) {
    const [x, y] = project(lat, lng, this.zoom);
    const [cx, cy] = project(this.center[0], this.center[1], this.zoom);
    return [x - cx + this.width / 2, y - cy + this.height / 2];
  }

  /** (lat, lng) at a screen position. */
  latLng(sx, sy) {
    const [cx, cy] = project(this.center[0], this.center[1], this.zoom);
    return unproject(cx + sx - this.width / 2, cy + sy - this.height / 2, this.zoom);
  }

  /** Visible box [lat1, lng1, lat2, lng2] (south-west first), grown by ``margin`` of its size. */
  bounds(margin = 0) {
    const mx = this.width * margin;
    const my = this.height * margin;
    const [n, w] = this.latLng(-mx, -my);
    const [s, e] = this.latLng(this.width + mx, this.height + my);
    const r = (v) => Math.round(v * 1e5) / 1e5;
    return [r(Math.max(-85, s)), r(Math.max(-180, w)), r(Math.min(85, n)), r(Math.min(180, e))];
  }

  /** Integer web-map zoom of the view (what the stream subscribes with). */
  zoomLevel() { return Math.max(0, Math.min(22, Math.round(this.zoom))); }

  setView(center, zoom) {
    this.center = center;
    this.zoom = Math.max(MIN_ZOOM, Math.min(MAX_ZOOM, zoom));
    this.changed();
  }

  /** Show the box in the part of the map the cards leave free (``padding`` {left, right, top, bottom} px). */
  fit(box, padding = this.padding()) {
    const w = this.width - padding.left - padding.right;
    const h = this.height - padding.top - padding.bottom;
    const zoom = Math.max(MIN_ZOOM, Math.min(MAX_ZOOM, fitZoom(box, w, h)));
    const [x1, y1] = project(box[0], box[1], zoom);
    const [x2, y2] = project(box[2], box[3], zoom);
    // the box centre sits in the middle of the free area: shift the map centre by half the padding difference
    const cx = (x1 + x2) / 2 - (padding.left - padding.right) / 2;
    const cy = (y1 + y2) / 2 - (padding.top - padding.bottom) / 2;
    this.setView(unproject(cx, cy, zoom), zoom);
  }

  /** Room taken by the floating cards on a wide screen (on a phone they float over the map). */
  padding() {
    const pad = { left: 16, right: 16, top: 16, bottom: 16 };
    if (this.width < 760) return pad;
    const brand = document.getElementById("brand");
    const panel = document.getElementById("panel");
    if (brand && !brand.hidden) pad.left = brand.getBoundingClientRect().right + 8;
    if (panel && !panel.hidden) pad.right = this.width - panel.getBoundingClientRect().left + 8;
    return pad;
  }

  zoomAround(sx, sy, delta) {
    const target = Math.max(MIN_ZOOM, Math.min(MAX_ZOOM, this.zoom + delta));
    const anchor = this.latLng(sx, sy);
    this.zoom = target;
    const [ax, ay] = project(anchor[0], anchor[1], target);
    this.center = unproject(ax - sx + this.width / 2, ay - sy + this.height / 2, target);
    this.changed();
  }

  panBy(dx, dy) {
    const [cx, cy] = project(this.center[0], this.center[1], this.zoom);
    this.center = unproject(cx - dx, cy - dy, this.zoom);
    this.changed();
  }

  /** Something moved: redraw on the next frame and tell the app (it re-subscribes, debounced). */
  changed() {
    if (!this._frame) this._frame = requestAnimationFrame(() => { this._frame = 0; this.render(); });
    this.handlers.onViewChange?.();
  }

  // region ---------------------------------------------------------------------------------------
  setRegion(region) {
    this.region = region;
    this.layers.land.replaceChildren();
    this.landPath = null;
    if (region.outline.length) {
      // the land, and the same shape as a clip: cells are drawn on land only (the sea is nobody's market)
      this.landPath = el("path", { "fill-rule": "evenodd" }, this.layers.land);
      const defs = el("defs", {}, this.layers.land);
      const clip = el("clipPath", { id: "land-clip" }, defs);
      this.clipPath = el("path", { "clip-rule": "evenodd" }, clip);
      this.layers.cells.setAttribute("clip-path", "url(#land-clip)");
    }
    this.layers.zones.replaceChildren();
    this.zonePaths = new Map();
    for (const zone of region.zones) {
      const path = el("path", { "data-zone": zone.zone_id }, this.layers.zones);
      const label = el("text", { "text-anchor": "middle" }, this.layers.zones);
      label.textContent = zone.zone_name;
      this.zonePaths.set(zone.zone_id, { zone, path, label });
    }
    this.fit(region.view);
    if (region.tiles && new URLSearchParams(location.search).get("tiles") !== "0") this._probeTiles(region.tiles);
  }

  highlightZone(zoneId) {
    for (const [id, z] of this.zonePaths || []) z.path.classList.toggle("highlight", id === zoneId);
  }

  _probeTiles(tiles) {
    const [lat, lng] = this.center;
    const z = 12;
    const [x, y] = project(lat, lng, z).map((v) => Math.floor(v / TILE));
    const img = new Image();
    const timer = setTimeout(() => { img.src = ""; }, TILE_PROBE_MS);
    img.onload = () => {
      clearTimeout(timer);
      this.tiles = tiles;
      this.wrap.classList.add("tiles-on");
      this.attribution.textContent = tiles.attribution;
      this.changed();
    };
    img.onerror = () => clearTimeout(timer);
    img.src = this._tileUrl(tiles.url, z, x, y);
  }

  _tileUrl(template, z, x, y) {
    return template.replace("{z}", z).replace("{x}", x).replace("{y}", y);
  }

  // cells ----------------------------------------------------------------------------------------
  /** Replace every cell (a snapshot). */
  replaceCells(list) {
    const keep = new Set(list.map((c) => c.cell));
    for (const [token, entry] of this.cells) {
      if (!keep.has(token)) { entry.path.remove(); this.cells.delete(token); }
    }
    this.updateCells(list, [], false);
  }

  /** Apply changed cells and removed tokens (a delta); changed ones pulse once. */
  updateCells(list, removed, pulse = true) {
    for (const token of removed) {
      const entry = this.cells.get(token);
      if (entry) { entry.path.remove(); this.cells.delete(token); }
    }
    for (const cell of list) {
      let entry = this.cells.get(cell.cell);
      if (!entry) {
        const path = el("path", { class: "cell", "data-cell": cell.cell }, this.layers.cells);
        entry = { cell, path };
        this.cells.set(cell.cell, entry);
        this._placeCell(entry);
      } else if (pulse && entry.cell.surge_multiplier !== cell.surge_multiplier) {
        const path = entry.path; // restart the pulse: drop the class now, add it on the next frame
        path.classList.remove("changed");
        requestAnimationFrame(() => path.classList.add("changed"));
      }
      entry.cell = cell;
      const p = entry.path;
      p.setAttribute("fill", cell.color);
      p.setAttribute("fill-opacity", cellOpacity(cell.surge_multiplier));
      p.dataset.multiplier = cell.surge_multiplier;
    }
  }

  clearCells() {
    for (const entry of this.cells.values()) entry.path.remove();
    this.cells.clear();
  }

  _ringPath(points, latFirst) {
    let d = "";
    for (let i = 0; i < points.length; i++) {
      const [a, b] = points[i];
      const [x, y] = latFirst ? this.screen(a, b) : this.screen(b, a);
      d += `${i ? "L" : "M"}${x.toFixed(1)} ${y.toFixed(1)}`;
    }
    return `${d}Z`;
  }

  _placeCell(entry) {
    entry.path.setAttribute("d", this._ringPath(entry.cell.polygon, true));
  }

  // overlay --------------------------------------------------------------------------------------
  /** The driver view: a point, its radius and numbered routes to recommended zones (null clears). */
  setDriver(driver) {
    this.driver = driver;
    this._drawOverlay();
  }

  _drawOverlay() {
    const layer = this.layers.overlay;
    layer.replaceChildren();
    const d = this.driver;
    if (!d) return;
    const [x, y] = this.screen(d.lat, d.lng);
    const mPerPx = (156543.03392 * Math.cos((d.lat * Math.PI) / 180)) / 2 ** this.zoom;
    el("circle", { class: "radius", cx: x, cy: y, r: d.radius / mPerPx }, layer);
    for (const t of [...(d.targets || [])].reverse()) {
      const [tx, ty] = this.screen(t.lat, t.lng);
      el("path", { class: "route", d: `M${x} ${y}L${tx} ${ty}` }, layer);
      el("circle", { class: "rank", cx: tx, cy: ty, r: 10 }, layer);
      el("text", { class: "rank-text", x: tx, y: ty }, layer).textContent = t.rank;
    }
    el("circle", { class: "driver", cx: x, cy: y, r: 8 }, layer);
  }

  // drawing --------------------------------------------------------------------------------------
  render() {
    if (!this.region) return;
    if (this.landPath) {
      const d = this.region.outline.map((ring) => this._ringPath(ring, false)).join("");
      this.landPath.setAttribute("d", d);
      this.clipPath.setAttribute("d", d);
    }
    const showLabels = this.zoom >= 12; // zoomed out (a phone), the names would cover the map
    for (const { zone, path, label } of this.zonePaths.values()) {
      path.setAttribute("d", polygonsOf(zone.geometry).flat().map((ring) => this._ringPath(ring, false)).join(""));
      const [lx, ly] = this.screen(zone.center.latitude, zone.center.longitude);
      label.setAttribute("x", lx.toFixed(1));
      label.setAttribute("y", ly.toFixed(1));
      label.style.display = showLabels ? "" : "none";
    }
    for (const entry of this.cells.values()) this._placeCell(entry);
    this._drawOverlay();
    this._drawTiles();
    this._drawScale();
  }

  _drawScale() {
    const bar = document.getElementById("scale");
    if (!bar) return;
    const mPerPx = (156543.03392 * Math.cos((this.center[0] * Math.PI) / 180)) / 2 ** this.zoom;
    const nice = [100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000];
    const metres = nice.find((m) => m / mPerPx >= 80) || nice[nice.length - 1];
    bar.style.width = `${Math.round(metres / mPerPx)}px`;
    bar.textContent = metres >= 1000 ? `${metres / 1000} km` : `${metres} m`;
  }

  _drawTiles() {
    if (!this.tiles) return;
    const tz = Math.max(0, Math.min(19, Math.round(this.zoom)));
    const scale = 2 ** (this.zoom - tz);
    const [cx, cy] = project(this.center[0], this.center[1], tz);
    const left = cx - this.width / 2 / scale;
    const top = cy - this.height / 2 / scale;
    const seen = new Set();
    const max = 2 ** tz;
    for (let x = Math.floor(left / TILE); x <= Math.floor((left + this.width / scale) / TILE); x++) {
      for (let y = Math.max(0, Math.floor(top / TILE)); y <= Math.min(max - 1, Math.floor((top + this.height / scale) / TILE)); y++) {
        const key = `${tz}/${x}/${y}`;
        seen.add(key);
        let img = this.tileImgs.get(key);
        if (!img) {
          img = document.createElement("img");
          img.alt = "";
          img.onerror = () => { img.style.visibility = "hidden"; };
          img.src = this._tileUrl(this.tiles.url, tz, ((x % max) + max) % max, y);
          this.tilesDiv.appendChild(img);
          this.tileImgs.set(key, img);
        }
        img.style.left = `${(x * TILE - left) * scale}px`;
        img.style.top = `${(y * TILE - top) * scale}px`;
        img.style.width = img.style.height = `${TILE * scale}px`;
      }
    }
    for (const [key, img] of this.tileImgs) {
      if (!seen.has(key)) { img.remove(); this.tileImgs.delete(key); }
    }
  }

  // input ----------------------------------------------------------------------------------------
  _bindInput() {
    const wrap = this.wrap;
    const pointers = new Map();
    let moved = false;
    let pinch = null;
    wrap.addEventListener("pointerdown", (e) => {
      if (e.target.closest("button")) return;
      pointers.set(e.pointerId, [e.clientX, e.clientY]);
      wrap.setPointerCapture(e.pointerId);
      moved = false;
      if (pointers.size === 2) {
        const [a, b] = [...pointers.values()];
        pinch = { dist: Math.hypot(a[0] - b[0], a[1] - b[1]), zoom: this.zoom };
      }
    });
    wrap.addEventListener("pointermove", (e) => {
      const last = pointers.get(e.pointerId);
      if (!last) {
        this._hover(e);
        return;
      }
      const dx = e.clientX - last[0];
      const dy = e.clientY - last[1];
      pointers.set(e.pointerId, [e.clientX, e.clientY]);
      if (pointers.size === 2 && pinch) {
        const [a, b] = [...pointers.values()];
        const dist = Math.hypot(a[0] - b[0], a[1] - b[1]);
        const target = pinch.zoom + Math.log2(dist / pinch.dist);
        this.zoomAround((a[0] + b[0]) / 2, (a[1] + b[1]) / 2, target - this.zoom);
        moved = true;
        return;
      }
      if (!moved && Math.hypot(dx, dy) < 3) return;
      moved = true;
      wrap.classList.add("dragging");
      this.handlers.onCellLeave?.();
      this.panBy(dx, dy);
    });
    const end = (e) => {
      if (!pointers.has(e.pointerId)) return;
      pointers.delete(e.pointerId);
      if (pointers.size < 2) pinch = null;
      wrap.classList.remove("dragging");
      if (!moved && e.type === "pointerup" && pointers.size === 0) {
        const [lat, lng] = this.latLng(e.clientX, e.clientY);
        const token = this._cellAt(e.clientX, e.clientY);
        this.handlers.onClick?.({ lat, lng, cell: token ? this.cells.get(token).cell : null, event: e });
      }
    };
    wrap.addEventListener("pointerup", end);
    wrap.addEventListener("pointercancel", end);
    wrap.addEventListener("pointerleave", () => this.handlers.onCellLeave?.());
    wrap.addEventListener("wheel", (e) => {
      e.preventDefault();
      this.zoomAround(e.clientX, e.clientY, -e.deltaY * (e.deltaMode ? 0.05 : 0.0025));
    }, { passive: false });
    wrap.addEventListener("dblclick", (e) => this.zoomAround(e.clientX, e.clientY, e.shiftKey ? -1 : 1));
    document.getElementById("zoom-in").onclick = () => this.zoomAround(this.width / 2, this.height / 2, 1);
    document.getElementById("zoom-out").onclick = () => this.zoomAround(this.width / 2, this.height / 2, -1);
    document.getElementById("zoom-home").onclick = () => this.region && this.fit(this.region.view);
  }

  _cellAt(x, y) {
    const hit = document.elementFromPoint(x, y);
    return hit && hit.classList && hit.classList.contains("cell") ? hit.dataset.cell : null;
  }

  _hover(e) {
    const token = e.target.classList && e.target.classList.contains("cell") ? e.target.dataset.cell : null;
    if (token) this.handlers.onCellHover?.(this.cells.get(token).cell, e.clientX, e.clientY);
    else this.handlers.onCellLeave?.();
  }
}
