// The live heatmap stream: WebSocket first, Server-Sent Events as the fallback (or with ?transport=sse).
//
// Protocol (README "Live heatmap streams"): the client subscribes with a viewport {bounds, zoom,
// vehicle_type}; the server answers `status`, then a `snapshot` of the cells in view, then `delta`
// batches (changed cells and `removed` tokens), each with the `rev` it is complete up to. After a
// dropped WebSocket the client reconnects with backoff and resumes with `since` = the last rev for the
// same viewport; an EventSource resumes by itself through Last-Event-ID.

const WS_PATH = "/api/v1/stream/heatmap/ws";
const SSE_PATH = "/api/v1/stream/heatmap/sse";

export class HeatStream {
  /**
   * handlers: onSnapshot(msg), onDelta(msg), onStatus({degraded}), onState("connecting"|"live"|"offline", transport),
   * onError({code, message, field})
   */
  constructor(handlers, { transport = "ws", token = "" } = {}) {
    this.handlers = handlers;
    this.transport = transport;
    this.token = token;
    this.viewport = null;
    this.rev = null; // rev of the last applied message, for the current viewport
    this.ws = null;
    this.es = null;
    this.attempts = 0;
    this.wsFailures = 0;
    this.timer = 0;
    this.closed = false;
  }

  /** Set (or move) the viewport; a new viewport gets a fresh snapshot. */
  subscribe(bounds, zoom, vehicleType) {
    const viewport = { bounds, zoom, vehicle_type: vehicleType };
    if (this.viewport && JSON.stringify(viewport) === JSON.stringify(this.viewport)) return;
    this.viewport = viewport;
    this.rev = null;
    if (this.transport === "ws") {
      if (this.ws && this.ws.readyState === WebSocket.OPEN) this._send();
      else if (!this.ws) this._connectWs();
    } else {
      this._connectSse();
    }
  }

  _state(state) { this.handlers.onState?.(state, this.transport); }

  _handle(msg) {
    switch (msg.type) {
      case "snapshot":
        this.rev = msg.rev;
        this.handlers.onSnapshot?.(msg);
        break;
      case "delta":
        this.rev = msg.rev;
        this.handlers.onDelta?.(msg);
        break;
      case "status":
        this.handlers.onStatus?.(msg);
        break;
      case "error":
        this.handlers.onError?.(msg);
        break;
      case "close":
        this._state("connecting");
        break;
      default:
        break;
    }
  }

  // WebSocket ------------------------------------------------------------------------------------
  _connectWs() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const query = this.token ? `?token=${encodeURIComponent(this.token)}` : "";
    const ws = new WebSocket(`${proto}//${location.host}${WS_PATH}${query}`);
    this.ws = ws;
    this._state("connecting");
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.attempts = 0;
      this.wsFailures = 0;
      this._send(this.rev);
    };
    ws.onmessage = (event) => {
      if (typeof event.data !== "string") return;
      const msg = JSON.parse(event.data);
      if (msg.type === "snapshot" || msg.type === "delta") this._state("live");
      this._handle(msg);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.closed) return;
      if (!opened && ++this.wsFailures >= 2) { // a proxy that eats WebSockets: use SSE
        this.transport = "sse";
        this._connectSse();
        return;
      }
      this._state("offline");
      this._retry(() => this._connectWs());
    };
  }

  _send(since = null) {
    if (!this.viewport || !this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    const msg = { type: "subscribe", ...this.viewport };
    if (since !== null && since !== undefined) msg.since = since;
    this.ws.send(JSON.stringify(msg));
  }

  // SSE ------------------------------------------------------------------------------------------
  _connectSse() {
    if (this.es) this.es.close();
    if (!this.viewport) return;
    const v = this.viewport;
    const params = new URLSearchParams({ bounds: v.bounds.join(","), zoom: String(v.zoom) });
    if (v.vehicle_type) params.set("vehicle_type", v.vehicle_type);
    if (this.token) params.set("token", this.token);
    const es = new EventSource(`${SSE_PATH}?${params}`);
    this.es = es;
    this._state("connecting");
    for (const type of ["snapshot", "delta", "status", "error", "close"]) {
      es.addEventListener(type, (event) => {
        if (type === "snapshot" || type === "delta") this._state("live");
        this._handle(JSON.parse(event.data));
      });
    }
    es.onerror = () => {
      // the browser reconnects by itself (with Last-Event-ID) unless the server refused the request
      this._state(es.readyState === EventSource.CLOSED ? "offline" : "connecting");
      if (es.readyState === EventSource.CLOSED && this.es === es && !this.closed) this._retry(() => this._connectSse());
    };
  }

  _retry(fn) {
    clearTimeout(this.timer);
    const delay = Math.min(10000, 500 * 2 ** this.attempts++) * (0.5 + Math.random() / 2);
    this.timer = setTimeout(fn, delay);
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000);
    if (this.es) this.es.close();
  }
}
