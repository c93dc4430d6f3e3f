// The ops panel, behind the admin token: emergency mode and the global cap (rules), weather / event
// signals, zones (ranges), and links to analytics and metrics. The token stays in this tab's
// sessionStorage and goes out only as `Authorization: Bearer` to /api/v1/admin/*.

const STORE_KEY = "equilibrium.admin_token";

function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

export class OpsPanel {
  constructor(map, region) {
    this.map = map;
    this.region = region;
    this.token = sessionStorage.getItem(STORE_KEY) || "";
    this.rules = null;
    this.$ = (id) => document.getElementById(id);
    this.$("ops-login").onsubmit = (e) => { e.preventDefault(); this.unlock(this.$("ops-token").value.trim()); };
    this.$("ops-lock").onclick = () => this.lock();
    for (const b of this.$("emergency").querySelectorAll("button")) b.onclick = () => this.setEmergency(b.dataset.mode);
    this.$("rules-form").onsubmit = (e) => { e.preventDefault(); this.saveMax(); };
    this.$("signal-form").onsubmit = (e) => { e.preventDefault(); this.startSignal(); };
    const zoneSelect = this.$("signal-zone");
    zoneSelect.innerHTML = region.zones.map((z) => `<option value="${esc(z.zone_id)}">${esc(z.zone_name)}</option>`).join("")
      + `<option value="${esc(region.default_zone_id)}">Rest of region</option>`;
    if (this.token) this.unlock(this.token);
  }

  async api(method, path, body) {
    const resp = await fetch(path, {
      method, headers: { Authorization: `Bearer ${this.token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const data = resp.status === 204 ? null : await resp.json().catch(() => null);
    if (!resp.ok) {
      const err = new Error(data && data.error ? data.error.message : `HTTP ${resp.status}`);
      err.status = resp.status;
      throw err;
    }
    return data;
  }

  message(text, ok = true) {
    const m = this.$("ops-message");
    m.textContent = text;
    m.className = `small ${ok ? "ok" : "bad"}`;
  }

  async unlock(token) {
    this.token = token;
    try {
      await this.reload();
    } catch (err) {
      this.$("ops-login-error").textContent = err.status === 401 || err.status === 403
        ? "That token is not accepted." : err.message;
      this.token = "";
      sessionStorage.removeItem(STORE_KEY);
      return;
    }
    sessionStorage.setItem(STORE_KEY, token);
    this.$("ops-login-error").textContent = "";
    this.$("ops-login").hidden = true;
    this.$("ops").hidden = false;
  }

  lock() {
    this.token = "";
    sessionStorage.removeItem(STORE_KEY);
    this.$("ops").hidden = true;
    this.$("ops-login").hidden = false;
    this.$("ops-token").value = "";
  }

  async reload() {
    const [rules, zones, signals] = await Promise.all([
      this.api("GET", "/api/v1/admin/rules"), this.api("GET", "/api/v1/admin/zones"),
      this.api("GET", "/api/v1/admin/signals")]);
    this.rules = rules;
    this.renderRules();
    this.renderZones(zones.zones);
    this.renderSignals(signals.signals);
  }

  renderRules() {
    for (const b of this.$("emergency").querySelectorAll("button")) {
      b.setAttribute("aria-checked", String(b.dataset.mode === this.rules.emergency_mode));
    }
    this.$("max-multiplier").value = this.rules.max_multiplier;
  }

  async putRules(changes, what) {
    try {
      this.rules = await this.api("PUT", "/api/v1/admin/rules", { ...this.rules, ...changes });
      this.renderRules();
      this.message(what);
    } catch (err) {
      this.message(err.message, false);
    }
  }

  setEmergency(mode) {
    const words = { off: "Emergency mode off: normal pricing.", freeze: "Frozen: every multiplier is 1.0×.",
      cap: "Capped: each zone at most its 60-day normal range." };
    return this.putRules({ emergency_mode: mode }, words[mode]);
  }

  saveMax() {
    const value = Number(this.$("max-multiplier").value);
    return this.putRules({ max_multiplier: value }, `Global cap set to ${value}×.`);
  }

  renderSignals(signals) {
    const names = new Map(this.region.zones.map((z) => [z.zone_id, z.zone_name]));
    const list = this.$("signals");
    if (!signals.length) {
      list.innerHTML = '<li class="muted">No active signal.</li>';
      return;
    }
    list.innerHTML = signals.map((s) => {
      const minutes = Math.max(0, Math.round((s.expires_at * 1000 - Date.now()) / 60000));
      return `<li data-signal="${esc(s.id)}"><span><b>${esc(s.kind)}</b> ×${s.factor} · ${esc(names.get(s.zone_id) || s.zone_id)}
        · ${minutes} min left${s.reason ? ` · ${esc(s.reason)}` : ""}</span>
        <button type="button" class="link" data-end="${esc(s.id)}">end</button></li>`;
    }).join("");
    for (const b of list.querySelectorAll("button[data-end]")) b.onclick = () => this.endSignal(b.dataset.end);
  }

  async startSignal() {
    const body = {
      zone_id: this.$("signal-zone").value, kind: this.$("signal-kind").value,
      factor: Number(this.$("signal-factor").value), duration_s: Number(this.$("signal-minutes").value) * 60,
      reason: this.$("signal-reason").value.trim(),
    };
    try {
      await this.api("POST", "/api/v1/admin/signals", body);
      this.renderSignals((await this.api("GET", "/api/v1/admin/signals")).signals);
      this.message(`Signal started: ${body.kind} ×${body.factor}.`);
    } catch (err) {
      this.message(err.message, false);
    }
  }

  async endSignal(id) {
    try {
      await this.api("DELETE", `/api/v1/admin/signals/${encodeURIComponent(id)}`);
      this.renderSignals((await this.api("GET", "/api/v1/admin/signals")).signals);
      this.message("Signal ended.");
    } catch (err) {
      this.message(err.message, false);
    }
  }

  renderZones(zones) {
    this.zones = new Map(zones.map((z) => [z.id, z]));
    const body = this.$("zones-table").querySelector("tbody");
    body.innerHTML = zones.map((z) => `
      <tr class="zone-row" data-zone="${esc(z.id)}">
        <td>${esc(z.name)}</td><td>${esc(z.algorithm)}</td>
        <td class="range"><input type="number" min="1" max="100" step="0.1" value="${z.min_multiplier}" aria-label="min"> –
            <input type="number" min="1" max="100" step="0.1" value="${z.max_multiplier}" aria-label="max"></td>
        <td><button type="button" class="link" data-save="${esc(z.id)}">save</button></td>
      </tr>`).join("");
    for (const row of body.querySelectorAll("tr")) {
      row.onmouseenter = () => this.map.highlightZone(row.dataset.zone);
      row.onmouseleave = () => this.map.highlightZone(null);
    }
    for (const b of body.querySelectorAll("button[data-save]")) {
      b.onclick = () => {
        const inputs = b.closest("tr").querySelectorAll("input");
        this.saveZone(b.dataset.save, Number(inputs[0].value), Number(inputs[1].value));
      };
    }
  }

  async saveZone(id, min, max) {
    const zone = this.zones.get(id);
    try {
      const saved = await this.api("PUT", `/api/v1/admin/zones/${encodeURIComponent(id)}`,
        { ...zone, min_multiplier: min, max_multiplier: max });
      this.zones.set(id, saved);
      this.message(`${zone.name}: ${min}× – ${max}×.`);
    } catch (err) {
      this.message(err.message, false);
    }
  }
}
