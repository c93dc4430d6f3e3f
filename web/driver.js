// The driver view: recommended zones near a point (or a driver's last ping), ranked by expected earnings.
// GET /api/v1/driver/heatmap?lat=&lng=&vehicle_type=&radius=  or  ?driver_id=&radius=

import { times, trendLabel } from "./geo.js";

const REFRESH_MS = 10000;
const TOP_ROUTES = 3;

function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

export class DriverView {
  constructor(map, region, { vehicleType, currency }) {
    this.map = map;
    this.region = region;
    this.vehicleType = vehicleType;
    this.currency = currency;
    this.picking = false;
    this.query = null; // {lat, lng} or {driver_id}
    this.timer = 0;
    this.pickButton = document.getElementById("driver-pick");
    this.radius = document.getElementById("driver-radius");
    this.result = document.getElementById("driver-result");
    this.pickButton.onclick = () => this.setPicking(!this.picking);
    this.radius.onchange = () => this.refresh();
    document.getElementById("driver-id-form").onsubmit = (e) => {
      e.preventDefault();
      const id = document.getElementById("driver-id").value.trim();
      if (id) this.show({ driver_id: id });
    };
  }

  setPicking(on) {
    this.picking = on;
    this.pickButton.classList.toggle("active", on);
    this.pickButton.textContent = on ? "Click the map…" : "Pick a point on the map";
    this.map.wrap.classList.toggle("picking", on);
  }

  /** A map click: consumed when picking a point. */
  handleClick(lat, lng) {
    if (!this.picking) return false;
    this.setPicking(false);
    this.show({ lat, lng });
    return true;
  }

  setVehicleType(vt) {
    this.vehicleType = vt;
    if (this.query && !this.query.driver_id) this.refresh();
  }

  show(query) {
    this.query = query;
    this.refresh();
  }

  clear() {
    this.query = null;
    clearTimeout(this.timer);
    this.result.replaceChildren();
    this.map.setDriver(null);
  }

  async refresh() {
    clearTimeout(this.timer);
    if (!this.query) return;
    const params = new URLSearchParams({ radius: this.radius.value });
    if (this.query.driver_id) params.set("driver_id", this.query.driver_id);
    else {
      params.set("lat", this.query.lat.toFixed(6));
      params.set("lng", this.query.lng.toFixed(6));
      params.set("vehicle_type", this.vehicleType);
    }
    let body;
    try {
      const resp = await fetch(`/api/v1/driver/heatmap?${params}`);
      body = await resp.json();
      if (!resp.ok) throw new Error(body.error ? body.error.message : `HTTP ${resp.status}`);
    } catch (err) {
      this.result.innerHTML = `<p class="error small">${esc(err.message)}</p>`;
      this.map.setDriver(null);
      return;
    }
    this.render(body);
    this.timer = setTimeout(() => this.refresh(), REFRESH_MS);
  }

  render(body) {
    const zones = new Map(this.region.zones.map((z) => [z.zone_id, z]));
    const loc = body.current_location;
    const fmt = new Intl.NumberFormat(undefined, { style: "currency", currency: this.currency, maximumFractionDigits: 0 });
    const items = body.recommended_zones.map((z, i) => `
      <li data-zone="${esc(z.zone_id)}">
        <span class="n">${i + 1}</span>
        <span class="name">${esc(z.zone_name)}</span>
        <span class="earn">${fmt.format(z.estimated_earnings_per_hour)}/h</span>
        <span class="meta">${times(z.surge_multiplier)} · ${(z.distance_meters / 1000).toFixed(1)} km ·
          <span class="trend-${esc(z.demand_trend)}">${trendLabel(z.demand_trend)}</span></span>
      </li>`).join("");
    this.result.innerHTML = `
      <p class="small muted">${esc(body.vehicle_type)} · within ${(body.radius_meters / 1000).toFixed(0)} km of
        ${loc.latitude.toFixed(4)}, ${loc.longitude.toFixed(4)}${body.degraded ? " · <b>prices degraded</b>" : ""}
        · <button type="button" class="link" id="driver-clear">clear</button></p>
      ${items ? `<ol class="reco">${items}</ol>` : '<p class="small">No zone within reach.</p>'}`;
    document.getElementById("driver-clear").onclick = () => this.clear();
    for (const li of this.result.querySelectorAll("li[data-zone]")) {
      li.onmouseenter = () => this.map.highlightZone(li.dataset.zone);
      li.onmouseleave = () => this.map.highlightZone(null);
    }
    const targets = body.recommended_zones.slice(0, TOP_ROUTES).map((z, i) => {
      const zone = zones.get(z.zone_id);
      return zone && z.distance_meters > 0 ? { lat: zone.center.latitude, lng: zone.center.longitude, rank: i + 1 } : null;
    }).filter(Boolean);
    this.map.setDriver({ lat: loc.latitude, lng: loc.longitude, radius: body.radius_meters, targets });
  }
}
