"use strict";
const $ = (selector) => document.querySelector(selector);
const STALE_MS = 60_000, DEAD_MS = 300_000, STABLE_MS = 10_000;
const { backoffDelay, createSequence, formatValue, valueRange, scales, columns, matchersFor } = VigilLogic;

const live = {
  socket: null, stream: null, newStream: null, sequence: createSequence(), attempt: 0, retry: null, stable: null,
  readings: 0, series: new Map(), sources: new Map(), dirty: new Set(), frame: 0, wanted: false,
  role: "viewer", gaps: 0,
};

// ---- session and login -------------------------------------------------------------
async function boot() {
  const response = await fetch("/api/v1/session", { credentials: "same-origin" });
  if (response.ok) { showConsole(await response.json()); } else { showLogin(); }
}

function showLogin() {
  live.wanted = false;
  if (live.socket) live.socket.close(1000);
  $("#login").hidden = false; $("#overview").hidden = true; $("#series").hidden = true; $("#rejects").hidden = true;
  $("#alerts").hidden = true;
  $("#nav").hidden = true; $("#logout").hidden = true;
  setLink("offline");
  $("#username").focus();
}

function showConsole(session) {
  $("#login").hidden = true; $("#nav").hidden = false; $("#logout").hidden = false;
  route();
  $("#logout").title = `${session.user} (${session.role})`;
  live.role = session.role;
  document.querySelectorAll(".operator-only").forEach((element) => { element.hidden = !isOperator(); });
  live.wanted = true;
  if (!live.socket) connect();
}

$("#login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("#login-error").textContent = "";
  const body = JSON.stringify({ username: $("#username").value, password: $("#password").value });
  const response = await fetch("/api/v1/login", { method: "POST", credentials: "same-origin",
                                                 headers: { "Content-Type": "application/json" }, body });
  if (response.ok) { $("#password").value = ""; showConsole(await response.json()); return; }
  let message = "Login failed";
  try { message = (await response.json()).error || message; } catch (_) {}
  if (response.status === 401) message = "Wrong user name or password";
  if (response.status === 429) message = `Too many attempts: try again in ${response.headers.get("Retry-After") || "a few"} s`;
  $("#login-error").textContent = message;
});

$("#logout").addEventListener("click", async () => {
  await fetch("/api/v1/logout", { method: "POST", credentials: "same-origin" });
  live.stream = null; live.sequence.reset();
  showLogin();
});

// ---- the live stream ---------------------------------------------------------------
function connect() {
  clearTimeout(live.retry);
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const socket = new WebSocket(scheme + location.host + "/api/v1/live", "vigil.v1.json");
  live.socket = socket;
  socket.onmessage = (event) => { if (live.socket === socket) handle(JSON.parse(event.data), socket); };
  socket.onclose = () => {
    if (live.socket !== socket) return;
    live.socket = null;
    clearTimeout(live.stable);
    if (!live.wanted) return;
    setLink(navigator.onLine === false ? "offline" : "reconnecting");
    const delay = backoffDelay(live.attempt);
    live.attempt += 1;
    live.retry = setTimeout(async () => {
      // A 401 after a gateway restart without the session: back to the login page.
      const session = await fetch("/api/v1/session", { credentials: "same-origin" }).catch(() => null);
      if (session && session.status === 401) { showLogin(); return; }
      connect();
    }, delay);
  };
}

function send(socket, message) { socket.send(JSON.stringify(message)); }

function subscribe(socket) { send(socket, { op: "subscribe", id: 1, selector: '{__name__=~".+"}' }); }

function handle(message, socket) {
  switch (message.type) {
    case "hello":
      live.newStream = message.stream;
      setSources(message.sources || []);
      if (live.stream) { send(socket, { op: "resume", stream: live.stream, seq: live.sequence.seq }); }
      else { live.stream = message.stream; live.sequence.reset(); subscribe(socket); }
      setLink("live");
      loadAlerts();
      live.stable = setTimeout(() => { live.attempt = 0; }, STABLE_MS);
      break;
    case "resumed":
      live.stream = message.stream;
      setSources(message.sources || []);
      loadAlerts();
      break;
    case "resync":
      live.stream = live.newStream; live.sequence.reset();
      subscribe(socket);
      break;
    case "snapshot":
      live.sequence.reset(message.seq);
      message.readings.forEach(apply);
      break;
    case "update":
      const previous = live.sequence.seq;
      if (live.sequence.accept(message.seq) === "gap") {
        // The server numbers without gaps (resume replays, resync re-snapshots), so a gap means
        // something was lost: count it (the browser test checks) and start over with a fresh
        // stream and snapshot.
        console.warn(`live: sequence gap ${previous} -> ${message.seq}`);
        live.gaps += 1;
        document.body.dataset.seqGaps = String(live.gaps);
        live.stream = null; live.sequence.reset();
        socket.close(1000);
        return;
      }
      live.readings += message.readings.length;
      message.readings.forEach(apply);
      break;
    case "rtt": $("#link-rtt").textContent = `RTT ${message.ms.toFixed(1)} ms`; break;
    case "source": setSource(message); break;
    case "alert": alertChanged(message.alert); break;
    case "error": console.warn("live:", message.message); break;
  }
}

function setLink(state) {
  const link = $("#link");
  link.className = `link ${state}`;
  $("#link-state").textContent = state;
  if (state !== "live") $("#link-rtt").textContent = "";
}

setInterval(() => {
  $("#link-rate").textContent = live.socket ? `${live.readings} msg/s` : "";
  live.readings = 0;
  const now = Date.now();
  for (const entry of live.series.values()) paintAge(entry, now);
}, 1000);

// ---- sources ------------------------------------------------------------------------
function setSources(list) { live.sources.clear(); list.forEach((source) => live.sources.set(source.name, source)); paintSources(); }
function setSource(source) {
  const known = live.sources.get(source.name);
  if (known && known.ledger && !source.ledger) source.ledger = known.ledger;
  live.sources.set(source.name, source);
  paintSources();
}
function paintSources() {
  const list = $("#sources");
  list.replaceChildren(...[...live.sources.values()].map((source) => {
    const item = document.createElement("li");
    item.className = source.state;
    item.textContent = `${source.name} (${source.kind}): ${source.state}${source.detail ? " — " + source.detail : ""}`;
    if (source.ledger) {
      const ledger = document.createElement("span");
      ledger.className = "ledger";
      ledger.textContent = ledgerText(source.ledger);
      item.append(ledger);
    }
    return item;
  }));
}
// Where every reading went: received = stored + duplicate + refused + dropped (+ in flight).
function ledgerText(l) {
  const sum = (table) => Object.values(table || {}).reduce((a, b) => a + b, 0);
  const reasons = (table) => Object.entries(table || {}).map(([r, n]) => `${r} ${n}`).join(", ");
  let text = ` · received ${l.received} = stored ${l.stored} + duplicate ${l.duplicate} + refused ${sum(l.refused)}`;
  if (sum(l.refused)) text += ` (${reasons(l.refused)})`;
  text += ` + dropped ${sum(l.dropped)}`;
  if (sum(l.dropped)) text += ` (${reasons(l.dropped)})`;
  if (l.in_flight) text += ` + in flight ${l.in_flight}`;
  return text;
}
// The ledger is not on the live stream: read it with the sources every 10 s.
async function loadLedgers() {
  const response = await fetch("/api/v1/sources", { credentials: "same-origin" }).catch(() => null);
  if (!response || !response.ok) return;
  const body = await response.json();
  for (const source of body.data || []) {
    const known = live.sources.get(source.name);
    if (known && source.ledger) known.ledger = source.ledger;
  }
  paintSources();
}
setInterval(loadLedgers, 10000);
setTimeout(loadLedgers, 1000);

// ---- device grid --------------------------------------------------------------------
function apply(reading) {
  let entry = live.series.get(reading.series);
  if (!entry) {
    entry = { reading, previous: null, card: makeCard(reading) };
    live.series.set(reading.series, entry);
    insertSorted(entry);
  } else if (reading.t >= entry.reading.t) {
    entry.previous = entry.reading.v;
    entry.reading = reading;
  }
  live.dirty.add(entry);
  if (!live.frame) live.frame = requestAnimationFrame(paintCards);
  if (chart.series === reading.series && reading.v !== null && chart.loaded) {
    chart.points.push([reading.t, reading.v]);
    const oldest = Date.now() - chart.rangeMs;
    while (chart.points.length && chart.points[0][0] < oldest) chart.points.shift();
    drawSoon();
  }
}

// ---- series view: history from the query API, live points appended ------------------
const RANGES = { "15m": 15 * 60_000, "1h": 3_600_000, "24h": 86_400_000, "7d": 7 * 86_400_000 };
// About 200-300 points per range; from a 1 m step on, the query API reads the rollups.
const STEPS = { "15m": 5, "1h": 15, "24h": 300, "7d": 1800 };
const chart = { series: null, range: "1h", rangeMs: 3_600_000, points: [], loaded: false, frame: 0, request: 0 };

function route() {
  const hash = location.hash;
  const series = hash.startsWith("#series/") ? decodeURIComponent(hash.slice(8)) : null;
  const rejects = hash === "#rejects", alerts = hash === "#alerts";
  $("#overview").hidden = series !== null || rejects || alerts;
  $("#series").hidden = series === null;
  $("#rejects").hidden = !rejects;
  $("#alerts").hidden = !alerts;
  if (series !== null) openSeries(series);
  else chart.series = null;
  if (rejects) loadRejects();
  if (alerts) loadAlerts();
  // Page links are fragments naming their section: keep the browser from scrolling the header away.
  window.scrollTo(0, 0);
}

// ---- alerts: firing, pending and resolved; ack and silence for operators -------------
const alertsView = { list: [], silences: [], timer: 0 };
const STATE_ORDER = { firing: 0, pending: 1, resolved: 2 };
function isOperator() { return live.role === "operator" || live.role === "admin"; }

async function loadAlerts() {
  const response = await fetch("/api/v1/alerts", { credentials: "same-origin" });
  if (response.status === 401) { showLogin(); return; }
  const body = await response.json();
  alertsView.list = (body.data && body.data.alerts) || [];
  alertsView.silences = (body.data && body.data.silences) || [];
  paintAlerts();
}

// A live `alert` event updates its row at once; the full list (with silences) follows shortly.
function alertChanged(alert) {
  const index = alertsView.list.findIndex((a) => a.id === alert.id);
  if (index >= 0) { alert.silencedBy = alertsView.list[index].silencedBy; alertsView.list[index] = alert; }
  else alertsView.list.push(alert);
  alertsView.list.sort((a, b) => (STATE_ORDER[a.state] - STATE_ORDER[b.state]) || a.id.localeCompare(b.id));
  paintAlerts();
  clearTimeout(alertsView.timer);
  alertsView.timer = setTimeout(loadAlerts, 500);
}

function paintAlerts() {
  const firing = alertsView.list.filter((a) => a.state === "firing").length;
  $("#alerts-badge").hidden = firing === 0;
  $("#alerts-badge").textContent = String(firing);
  $("#alerts-info").textContent = alertsView.list.length
    ? `${firing} firing, ${alertsView.list.filter((a) => a.state === "pending").length} pending, ` +
      `${alertsView.list.filter((a) => a.state === "resolved").length} resolved`
    : "No alerts.";
  $("#alerts-table tbody").replaceChildren(...alertsView.list.map(alertRow));
  const active = alertsView.silences.filter((s) => s.active);
  $("#silences-table tbody").replaceChildren(...(active.length ? active.map(silenceRow) : [emptyRow("No active silences.", 5)]));
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function alertRow(alert) {
  const row = document.createElement("tr");
  row.dataset.alert = alert.id;
  row.dataset.state = alert.state;
  if (alert.silencedBy && alert.silencedBy.length) row.classList.add("silenced");
  const state = cell(row, "");
  const badge = document.createElement("span");
  badge.className = `state ${alert.state}`;
  badge.textContent = alert.state;
  state.appendChild(badge);
  cell(row, alert.severity);
  const name = cell(row, alert.rule);
  const series = document.createElement("span");
  series.className = "note"; series.textContent = alert.series;
  name.appendChild(series);
  cell(row, alert.value === undefined || alert.value === null ? "—" : formatValue(alert.value) + (alert.unit ? " " + alert.unit : ""));
  const since = alert.state === "resolved" ? alert.resolvedAt : alert.state === "firing" ? alert.firedAt : alert.activeAt;
  cell(row, since ? new Date(since).toLocaleString() : "");
  const summary = cell(row, (alert.annotations && alert.annotations.summary) || "");
  if (alert.ack) {
    const note = document.createElement("span");
    note.className = "note ack";
    note.textContent = `acknowledged by ${alert.ack.by} ${new Date(alert.ack.at).toLocaleTimeString()}${alert.ack.comment ? ": " + alert.ack.comment : ""}`;
    summary.appendChild(note);
  }
  if (alert.silencedBy && alert.silencedBy.length) {
    const note = document.createElement("span");
    note.className = "note"; note.textContent = "silenced";
    summary.appendChild(note);
  }
  const actions = cell(row, "");
  if (isOperator() && alert.state !== "resolved") {
    if (alert.ack) actions.appendChild(button("Unack", () => post("/api/v1/alerts/unack", { id: alert.id })));
    else actions.appendChild(button("Ack", () => post("/api/v1/alerts/ack", { id: alert.id })));
    actions.appendChild(button("Silence", () => post("/api/v1/silences", {
      matchers: matchersFor(alert.labels), duration: $("#silence-duration").value, comment: `from the console: ${alert.rule}` })));
  }
  return row;
}

function emptyRow(text, columns) {
  const row = document.createElement("tr");
  const td = cell(row, text, "muted");
  td.colSpan = columns;
  return row;
}

function silenceRow(silence) {
  const row = document.createElement("tr");
  cell(row, silence.matchers, "payload");
  cell(row, new Date(silence.endsAt).toLocaleString());
  cell(row, silence.createdBy);
  cell(row, silence.comment);
  const actions = cell(row, "");
  if (isOperator()) {
    actions.appendChild(button("End", async () => {
      await fetch(`/api/v1/silences/${encodeURIComponent(silence.id)}`, { method: "DELETE", credentials: "same-origin" });
      loadAlerts();
    }));
  }
  return row;
}

function button(text, action) {
  const element = document.createElement("button");
  element.type = "button"; element.textContent = text;
  element.addEventListener("click", action);
  return element;
}


async function post(path, body) {
  const response = await fetch(path, { method: "POST", credentials: "same-origin",
                                       headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  if (!response.ok) {
    let message = `HTTP ${response.status}`;
    try { message = (await response.json()).error || message; } catch (_) {}
    $("#alerts-info").textContent = `Failed: ${message}`;
  }
  loadAlerts();
}

// ---- ingest rejects: why readings were refused, newest first -------------------------
async function loadRejects() {
  const response = await fetch("/api/v1/ingest/rejects", { credentials: "same-origin" });
  if (response.status === 401) { showLogin(); return; }
  const body = await response.json();
  const rows = (body.data || []).slice().reverse().map((reject) => {
    const row = document.createElement("tr");
    const cells = [new Date(reject.time * 1000).toLocaleTimeString(), reject.source,
                   `${reject.reason}: ${reject.explanation}`, reject.topic, reject.payload];
    cells.forEach((text, index) => {
      const cell = document.createElement("td");
      cell.textContent = text;
      if (index === 4) cell.className = "payload";
      row.appendChild(cell);
    });
    return row;
  });
  $("#rejects-table tbody").replaceChildren(...rows);
  $("#rejects-info").textContent = `${rows.length} rejects, as of ${new Date().toLocaleTimeString()}`;
}
$("#rejects-refresh").addEventListener("click", loadRejects);
window.addEventListener("hashchange", () => { if (live.wanted) route(); });

function openSeries(series) {
  chart.series = series;
  $("#series-title").textContent = series;
  loadRange(chart.range);
}

document.querySelectorAll(".ranges button").forEach((button) => {
  button.addEventListener("click", () => loadRange(button.dataset.range));
});

async function loadRange(range) {
  chart.range = range; chart.rangeMs = RANGES[range]; chart.loaded = false; chart.points = [];
  document.querySelectorAll(".ranges button").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.range === range)));
  const request = ++chart.request;
  // The grid ends at the next step boundary, so the last window holds the newest readings.
  const step = STEPS[range];
  const end = Math.ceil(Date.now() / 1000 / step) * step;
  // agg=avg: Vigil's step aggregation (one average per step, from the rollups on long ranges)
  // rather than PromQL's newest-sample-per-step.
  const query = new URLSearchParams({ query: chart.series, start: String(end - chart.rangeMs / 1000), end: String(end), step: `${step}s`, agg: "avg" });
  const response = await fetch(`/api/v1/query_range?${query}`, { credentials: "same-origin" });
  if (request !== chart.request) return;  // a newer range was picked meanwhile
  if (response.status === 401) { showLogin(); return; }
  const body = await response.json();
  const result = (body.data && body.data.result && body.data.result[0]) || { values: [] };
  chart.points = result.values.map(([t, v]) => [Math.round(t * 1000), Number(v)]).filter(([, v]) => Number.isFinite(v));
  chart.loaded = true;
  $("#series-info").textContent = body.status === "success"
    ? `${chart.points.length} points loaded over ${range} (1 m rollups from a 1 m step, 1 h from 1 h), live points appended`
    : `query failed: ${body.error}`;
  drawSoon();
}

function drawSoon() { if (!chart.frame) chart.frame = requestAnimationFrame(draw); }

function draw() {
  chart.frame = 0;
  const canvas = $("#chart");
  if (canvas.offsetParent === null) return;
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth, height = canvas.clientHeight;
  canvas.width = width * ratio; canvas.height = height * ratio;
  canvas.dataset.points = String(chart.points.length);
  const g = canvas.getContext("2d");
  g.scale(ratio, ratio);
  const style = getComputedStyle(document.documentElement);
  g.clearRect(0, 0, width, height);
  g.font = "12px system-ui, sans-serif";
  g.fillStyle = style.getPropertyValue("--muted");
  if (!chart.points.length) { g.fillText("no data in this range", 12, 20); return; }
  const end = Date.now(), start = end - chart.rangeMs;
  const { low, high } = valueRange(chart.points);
  const pad = { left: 56, right: 10, top: 10, bottom: 22 };
  const { x, y } = scales({ start, end, low, high, width, height, pad });
  g.fillText(formatValue(high), 4, pad.top + 10);
  g.fillText(formatValue(low), 4, height - pad.bottom);
  g.fillText(new Date(start).toLocaleString(), pad.left, height - 6);
  g.textAlign = "right"; g.fillText("now", width - pad.right, height - 6); g.textAlign = "left";
  g.strokeStyle = style.getPropertyValue("--accent");
  g.lineWidth = 1.5;
  g.beginPath();
  // A gap of more than three steps (the gateway or the device was down) breaks the line.
  const gapMs = Math.max(3 * STEPS[chart.range] * 1000, 10_000);
  for (const line of columns(chart.points, x, gapMs)) {
    line.forEach((column, i) => {
      if (i === 0) g.moveTo(column.x, y(column.high)); else g.lineTo(column.x, y(column.high));
      if (column.low !== column.high) g.lineTo(column.x, y(column.low));
    });
  }
  g.stroke();
}
window.addEventListener("resize", drawSoon);

function makeCard(reading) {
  const card = document.createElement("div");
  card.className = "card";
  card.setAttribute("role", "group");
  card.dataset.series = reading.series;
  const labels = Object.entries(reading.labels || {}).filter(([name]) => name !== "source")
    .map(([name, value]) => `${name}=${value}`).join(" ");
  card.tabIndex = 0;
  const open = () => { location.hash = "#series/" + encodeURIComponent(reading.series); };
  card.addEventListener("click", open);
  card.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); open(); } });
  card.innerHTML = '<div class="name"></div><div><span class="value"></span><span class="unit"></span><span class="trend"></span></div>';
  card.querySelector(".name").textContent = `${reading.metric} ${labels}`;
  card.setAttribute("aria-label", `${reading.metric} ${labels}`);
  return card;
}

function insertSorted(entry) {
  const grid = $("#grid");
  const after = [...grid.children].find((card) => card.dataset.series > entry.reading.series);
  grid.insertBefore(entry.card, after || null);
}

function paintCards() {
  live.frame = 0;
  const now = Date.now();
  for (const entry of live.dirty) {
    const { reading, previous, card } = entry;
    card.querySelector(".value").textContent = reading.v === null ? "—" : formatValue(reading.v);
    card.querySelector(".unit").textContent = reading.unit || "";
    card.querySelector(".trend").textContent = previous === null || previous === reading.v ? "" : reading.v > previous ? "▲" : "▼";
    paintAge(entry, now);
  }
  live.dirty.clear();
}

function paintAge(entry, now) {
  const age = now - entry.reading.t;
  entry.card.classList.toggle("stale", age > STALE_MS && age <= DEAD_MS);
  entry.card.classList.toggle("dead", age > DEAD_MS);
  entry.card.title = `last reading ${new Date(entry.reading.t).toLocaleTimeString()}`;
}


window.addEventListener("online", () => { if (live.wanted && !live.socket) connect(); });
boot();
