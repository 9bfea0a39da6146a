"use strict";
const $ = (selector) => document.querySelector(selector);
const STALE_MS = 60_000, DEAD_MS = 300_000, STABLE_MS = 10_000;
const { backoffDelay, createSequence, formatValue, valueRange, scales, columns, matchersFor, valueTicks, timeTicks, timeLabel,
        zoomWindow, stepFor, parseSeriesView, formatSeriesView, MAX_COMPARED,
        buildTree, sortKey, searchText, compileQuery, visibleRows, parseView, formatView, underPath, refusedAt,
        watchChanges } = VigilLogic;

const live = {
  socket: null, stream: null, newStream: null, sequence: createSequence(), attempt: 0, retry: null, stable: null,
  readings: 0, received: 0, series: new Map(), sources: new Map(), dirty: new Set(), frame: 0, wanted: false,
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
  // The labels of the tree (http.console_tree), known before the first reading arrives.
  if (Array.isArray(session.tree) && session.tree.length) fleet.levels = session.tree;
  route();
  $("#logout").title = `${session.user} (${session.role})`;
  live.role = session.role;
  document.querySelectorAll(".operator-only").forEach((element) => { element.hidden = !isOperator(); });
  live.wanted = true;
  if (!live.socket) connect();
  loadCatalog();
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

// ---- what the stream sends: the series on screen ------------------------------------------
// The console subscribes to the series it shows (the cards in view, the device's panels, the
// series on the chart) and changes the list as the operator scrolls and navigates, so a console
// costs the gateway what it shows, not the whole fleet. The tree, search and filters work on the
// catalog (below). Series that come into view arrive with two minutes of history (sparklines).
const WATCH_ID = 1, WATCH_HISTORY_MINUTES = 2;
const watch = { subscribed: new Set(), timer: 0, socket: null };

function wantedSeries() {
  const wanted = new Set();
  if (!$("#overview").hidden) {
    for (const series of fleet.rendered.keys()) wanted.add(series);
    for (const entry of device.entries) wanted.add(entry.reading.series);
  }
  if (chart.series !== null) { wanted.add(chart.series); chart.compare.forEach((series) => wanted.add(series)); }
  return wanted;
}

// A fresh stream: an empty series subscription (taken at once by the gateway), then the screen's.
function subscribe(socket) {
  watch.socket = socket; watch.subscribed = new Set();
  send(socket, { op: "subscribe", id: WATCH_ID, series: [] });
  syncWatch();
}

// The screen changed: soon (a scroll moves many rows a second), tell the gateway what to add and drop.
function watchSoon() { if (!watch.timer) watch.timer = setTimeout(syncWatch, 120); }

function syncWatch() {
  clearTimeout(watch.timer); watch.timer = 0;
  const socket = watch.socket;
  if (!socket || socket !== live.socket || socket.readyState !== WebSocket.OPEN) return;
  const wanted = wantedSeries();
  for (const change of watchChanges(watch.subscribed, wanted)) {
    send(socket, { op: "change", id: WATCH_ID, add: change.add, remove: change.remove, history_minutes: WATCH_HISTORY_MINUTES });
  }
  watch.subscribed = wanted;
  document.body.dataset.watching = String(wanted.size);
}

// ---- the catalog: every series' labels and newest reading --------------------------------
// GET /api/v1/latest (1.5 MB at 10 000 series), read at login, after the link came back (series
// announced meanwhile were missed), every 10 s while "stale" is the filter (it needs every
// series' last reading time), and otherwise every 10 minutes: between reads, `series` events
// bring new series and the subscription keeps the series on screen current, so a hundred
// consoles cost the gateway little.
const CATALOG_MS = 600_000, CATALOG_STALE_MS = 10_000;
const catalog = { timer: 0, loadedAt: 0, loading: false };

async function loadCatalog() {
  clearTimeout(catalog.timer);
  catalog.timer = setTimeout(loadCatalog, fleet.view.filter === "stale" ? CATALOG_STALE_MS : CATALOG_MS);
  if (!live.wanted || catalog.loading || (document.hidden && catalog.loadedAt)) return;
  catalog.loading = true;
  try {
    const response = await fetch("/api/v1/latest", { credentials: "same-origin" }).catch(() => null);
    if (!response || !response.ok) return;
    const body = await response.json();
    for (const reading of body.data || []) note(reading);
    catalog.loadedAt = Date.now();
    document.body.dataset.catalog = String(live.series.size);
    if (fleet.view.filter === "stale") fleet.listDirty = true;
    if (!fleet.refresh) fleet.refresh = setTimeout(refreshFleet, 0);
  } finally {
    catalog.loading = false;
  }
}
document.addEventListener("visibilitychange", () => { if (!document.hidden && Date.now() - catalog.loadedAt > CATALOG_MS) loadCatalog(); });

// A catalog reading: a new series, or a newer value for one off screen (no sparkline point).
function note(reading) {
  const entry = live.series.get(reading.series);
  if (!entry) { apply(reading); return; }
  if (reading.t > entry.reading.t) {
    entry.previous = entry.reading.v;
    entry.reading = reading.unit || !entry.reading.unit ? reading : { ...reading, unit: entry.reading.unit };
    if (entry.card) { live.dirty.add(entry); if (!live.frame) live.frame = requestAnimationFrame(paintCards); }
  }
}

function handle(message, socket) {
  switch (message.type) {
    case "hello":
      live.newStream = message.stream;
      setSources(message.sources || []);
      if (live.stream) { send(socket, { op: "resume", stream: live.stream, seq: live.sequence.seq }); }
      else { live.stream = message.stream; live.sequence.reset(); subscribe(socket); }
      if (catalog.loadedAt && live.attempt > 0) loadCatalog();  // back after a lost link
      setLink("live");
      loadAlerts();
      live.stable = setTimeout(() => { live.attempt = 0; }, STABLE_MS);
      break;
    case "resumed":
      live.stream = message.stream;
      setSources(message.sources || []);
      loadAlerts();
      // The stream kept its subscription; the screen may have changed while the link was down.
      watch.socket = socket;
      syncWatch();
      break;
    case "resync":
      live.stream = live.newStream; live.sequence.reset();
      subscribe(socket);
      break;
    case "snapshot":
      live.sequence.reset(message.seq);
      message.readings.forEach(apply);
      (message.history || []).forEach(sparkHistory);
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
      live.received += message.readings.length;
      message.readings.forEach(apply);
      break;
    case "rtt": $("#link-rtt").textContent = `RTT ${message.ms.toFixed(1)} ms`; break;
    case "series": message.readings.forEach(note); break;  // new series, with their first reading
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
  for (const entry of fleet.rendered.values()) paintAge(entry, now);
  // Staleness moves with the clock: the stale filter's list is worked out again every second.
  if (fleet.view.filter === "stale") fleet.listDirty = true;
  if (fleet.view.filter === "refused" && now - fleet.refusedAt > 10_000) loadRefused();
  if (fleet.listDirty || fleet.treeDirty) refreshFleet();
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
  const all = [...live.sources.values()];
  const down = all.filter((source) => source.state !== "connected").length;
  $("#sources-summary").textContent = `${all.length} (${all.length - down} connected, ${down} not)`;
  // A few sources are shown at once; thousands (a Sparkplug fleet) only when asked for.
  if (!fleet.sourcesToggled) $("#sources-box").open = all.length <= 12;
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
    entry = { reading, previous: null, card: null, text: searchText(reading), key: sortKey(reading, fleet.levels),
              spark: new Float64Array(SPARK_POINTS), sparkCount: 0 };
    live.series.set(reading.series, entry);
    fleet.listDirty = true; fleet.treeDirty = true;
    if (!fleet.refresh) fleet.refresh = setTimeout(refreshFleet, fleet.entries.length ? 250 : 0);
  } else if (reading.t >= entry.reading.t) {
    entry.previous = entry.reading.v;
    entry.reading = reading;
  }
  if (reading.v !== null && reading.t >= entry.reading.t) {
    entry.spark[entry.sparkCount % SPARK_POINTS] = reading.v;
    entry.sparkCount += 1;
  }
  // Only cards on screen are painted; the others just keep their newest reading.
  if (entry.card) {
    live.dirty.add(entry);
    if (!live.frame) live.frame = requestAnimationFrame(paintCards);
  }
  if (entry.panel && reading.v !== null) devicePoint(entry, reading);
  const other = chart.loaded && !chart.zoom && reading.v !== null ? chart.others.find((o) => o.series === reading.series) : null;
  if (other) {
    other.points.push([reading.t, reading.v]);
    const oldest = Date.now() - chart.rangeMs;
    while (other.points.length && other.points[0][0] < oldest) other.points.shift();
    drawSoon();
  }
  if (chart.series === reading.series && reading.v !== null && chart.loaded && !chart.zoom) {
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
const chart = { series: null, range: "1h", rangeMs: 3_600_000, points: [], band: [], zoom: null, loaded: false, frame: 0, request: 0,
                compare: [], others: [] };
// Colours of compared series, after the accent of the first (distinct in light and dark).
const COMPARE_COLOURS = ["#e65100", "#2e7d32", "#8e24aa", "#00838f", "#c2185b"];

function route() {
  const hash = location.hash;
  const seriesView = parseSeriesView(hash);
  const series = seriesView ? seriesView.series : null;
  const rejects = hash === "#rejects", alerts = hash === "#alerts";
  const overview = series === null && !rejects && !alerts;
  $("#overview").hidden = !overview;
  if (overview) openOverview(parseView(hash));
  $("#series").hidden = series === null;
  $("#rejects").hidden = !rejects;
  $("#alerts").hidden = !alerts;
  if (series !== null) openSeries(seriesView);
  else chart.series = null;
  if (rejects) loadRejects();
  if (alerts) loadAlerts();
  // Page links are fragments naming their section: keep the browser from scrolling the header away.
  window.scrollTo(0, 0);
  watchSoon();
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
  paintAlerting();
  paintDeviceAlerts();
  if (fleet.view.filter === "alerting") { fleet.listDirty = true; refreshFleet(); }
  const firing = alertsView.list.filter((a) => a.state === "firing").length;
  $("#alerts-badge").hidden = firing === 0;
  $("#alerts-badge").textContent = String(firing);
  $("#alerts-info").textContent = alertsView.list.length
    ? `${firing} firing, ${alertsView.list.filter((a) => a.state === "pending").length} pending, ` +
      `${alertsView.list.filter((a) => a.state === "resolved").length} resolved`
    : "No alerts.";
  // The table is built only while its page is shown: a fleet with hundreds of alerts would
  // otherwise keep thousands of hidden rows in the DOM (route() paints it on the way in).
  if ($("#alerts").hidden) { $("#alerts-table tbody").replaceChildren(); return; }
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

function openSeries({ series, range, zoom, compare }) {
  chart.series = series;
  chart.zoom = zoom;
  chart.compare = compare || [];
  paintLegend();
  if (RANGES[range]) chart.range = range;
  const known = live.series.get(series);
  chart.unit = (known && known.reading.unit) || "";
  $("#series-title").textContent = series;
  loadRange(chart.range);
}

// The series view's state is its URL: a range button or a zoom replaces it (Back undoes a zoom).
function setSeriesView(change, { push = false } = {}) {
  const hash = formatSeriesView({ series: chart.series, range: chart.range, zoom: chart.zoom, compare: chart.compare, ...change });
  if (push) location.hash = hash; else { history.replaceState(null, "", hash); route(); }
}
$("#chart-reset").addEventListener("click", () => setSeriesView({ zoom: null }, { push: true }));

// ---- compare: other series on the same chart ------------------------------------------------
// The legend lists the series on the chart (the first in the accent colour); the search box
// suggests other series as you type (the same matching as the overview's search).
function paintLegend() {
  const chip = (series, colour, removable) => {
    const item = document.createElement("li");
    const swatch = document.createElement("span"); swatch.className = "swatch"; swatch.style.background = colour;
    const name = document.createElement("span"); name.textContent = series;
    item.append(swatch, name);
    if (removable) {
      const remove = button("✕", () => setSeriesView({ compare: chart.compare.filter((s) => s !== series) }, { push: true }));
      remove.setAttribute("aria-label", `stop comparing ${series}`);
      item.append(remove);
    }
    return item;
  };
  const accent = getComputedStyle(document.documentElement).getPropertyValue("--accent");
  $("#compare-legend").replaceChildren(...(chart.compare.length ? [chip(chart.series, accent, false)] : []),
                                       ...chart.compare.map((s, i) => chip(s, COMPARE_COLOURS[i % COMPARE_COLOURS.length], true)));
  $("#compare-input").hidden = chart.compare.length >= MAX_COMPARED;
}

$("#compare-input").addEventListener("input", () => {
  const match = compileQuery($("#compare-input").value);
  const list = $("#compare-suggest");
  const taken = new Set([chart.series, ...chart.compare]);
  const hits = [];
  if ($("#compare-input").value.trim()) {
    for (const entry of fleet.sorted.length ? fleet.sorted : live.series.values()) {
      if (!taken.has(entry.reading.series) && match(entry.text)) hits.push(entry.reading.series);
      if (hits.length >= 12) break;
    }
  }
  list.replaceChildren(...hits.map((series) => {
    const item = document.createElement("li");
    item.setAttribute("role", "option");
    item.textContent = series;
    item.addEventListener("click", () => {
      $("#compare-input").value = ""; list.hidden = true;
      setSeriesView({ compare: [...chart.compare, series] }, { push: true });
    });
    return item;
  }));
  list.hidden = hits.length === 0;
});
$("#compare-input").addEventListener("keydown", (event) => {
  if (event.key === "Enter") { const first = $("#compare-suggest li"); if (first) first.click(); }
  if (event.key === "Escape") $("#compare-suggest").hidden = true;
});

// Drag across the chart to zoom into that time; the selection shows while dragging.
(() => {
  const canvas = $("#chart");
  canvas.addEventListener("pointerdown", (event) => {
    if (event.button !== 0 || !chart.loaded) return;
    canvas.setPointerCapture(event.pointerId);
    canvas.selection = { x1: event.offsetX, x2: event.offsetX };
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!canvas.selection) return;
    canvas.selection.x2 = event.offsetX;
    replot(canvas);
  });
  canvas.addEventListener("pointerup", () => {
    const selection = canvas.selection;
    canvas.selection = null;
    if (!selection || !canvas.plotted) return;
    const { start, end } = canvas.plotted.options;
    const picked = zoomWindow(selection.x1, selection.x2, { start, end, width: canvas.clientWidth, pad: PLOT_PAD });
    if (picked) setSeriesView({ zoom: picked }, { push: true }); else replot(canvas);
  });
})();

document.querySelectorAll(".ranges button[data-range]").forEach((button) => {
  button.addEventListener("click", () => { chart.range = button.dataset.range; setSeriesView({ range: button.dataset.range, zoom: null }); });
});

async function loadRange(range) {
  chart.range = range; chart.rangeMs = RANGES[range]; chart.loaded = false; chart.points = []; chart.band = [];
  document.querySelectorAll(".ranges button[data-range]").forEach((b) => b.setAttribute("aria-pressed", String(!chart.zoom && b.dataset.range === range)));
  $("#chart-reset").hidden = !chart.zoom;
  const request = ++chart.request;
  // Zoomed: the window chosen, with a step for about 300 points (from one minute on, the query
  // API reads the rollups). Otherwise the range up to now, the grid ending at the next step
  // boundary so that the last window holds the newest readings.
  const step = chart.zoom ? stepFor(chart.zoom.end - chart.zoom.start) : STEPS[range];
  const end = chart.zoom ? Math.ceil(chart.zoom.end / 1000 / step) * step : Math.ceil(Date.now() / 1000 / step) * step;
  const start = chart.zoom ? Math.floor(chart.zoom.start / 1000 / step) * step : end - chart.rangeMs / 1000;
  // agg=avg: Vigil's step aggregation (one average per step, from the rollups on long ranges)
  // rather than PromQL's newest-sample-per-step. From a one-minute step the min and max of each
  // step come too, drawn as a band around the average: a spike averaged away still shows.
  const fetchAgg = (agg) => fetch(`/api/v1/query_range?${new URLSearchParams({ query: chart.series, start: String(start), end: String(end), step: `${step}s`, agg })}`,
                                  { credentials: "same-origin" });
  const responses = await Promise.all(step >= 60 ? ["avg", "min", "max"].map(fetchAgg) : [fetchAgg("avg")]);
  // Compared series: their averages only.
  const compared = await Promise.all(chart.compare.map((other) =>
    fetch(`/api/v1/query_range?${new URLSearchParams({ query: other, start: String(start), end: String(end), step: `${step}s`, agg: "avg" })}`,
          { credentials: "same-origin" }).then((r) => (r.ok ? r.json() : { data: null })).catch(() => ({ data: null }))));
  if (request !== chart.request) return;  // a newer range was picked meanwhile
  if (responses.some((r) => r.status === 401)) { showLogin(); return; }
  const bodies = await Promise.all(responses.map((r) => r.json()));
  const values = (body) => ((body.data && body.data.result && body.data.result[0]) || { values: [] }).values
    .map(([t, v]) => [Math.round(t * 1000), Number(v)]).filter(([, v]) => Number.isFinite(v));
  chart.points = values(bodies[0]);
  chart.others = chart.compare.map((other, i) => ({ series: other, points: values(compared[i]), colour: COMPARE_COLOURS[i % COMPARE_COLOURS.length] }));
  if (bodies.length === 3) {
    const max = new Map(values(bodies[2]));
    chart.band = values(bodies[1]).filter(([t]) => max.has(t)).map(([t, low]) => [t, low, max.get(t)]);
  }
  chart.loaded = true;
  const span = chart.zoom ? `${new Date(chart.zoom.start).toLocaleString()} – ${new Date(chart.zoom.end).toLocaleString()}` : range;
  $("#series-info").textContent = bodies[0].status === "success"
    ? `${chart.points.length} points over ${span} at ${step} s steps${chart.band.length ? ", with each step's min and max" : ""}` +
      (chart.zoom ? " (zoomed: live points paused)" : ", live points appended")
    : `query failed: ${bodies[0].error}`;
  drawSoon();
}

function drawSoon() { if (!chart.frame) chart.frame = requestAnimationFrame(draw); }

function draw() {
  chart.frame = 0;
  const canvas = $("#chart");
  if (canvas.offsetParent === null) return;
  canvas.dataset.points = String(chart.points.length);
  const end = chart.zoom ? chart.zoom.end : Date.now(), start = chart.zoom ? chart.zoom.start : end - chart.rangeMs;
  const step = chart.zoom ? stepFor(chart.zoom.end - chart.zoom.start) : STEPS[chart.range];
  // A gap of more than three steps (the gateway or the device was down) breaks the line.
  plot(canvas, chart.points, { start, end, unit: chart.unit, band: chart.band, others: chart.others, gapMs: Math.max(3 * step * 1000, 10_000) });
  canvas.dataset.series = String(1 + chart.others.filter((o) => o.points.length).length);
}

// One series on a canvas: value ticks with the unit on the left, local-time ticks below, one
// min–max stroke per pixel column, gaps as gaps, and a crosshair with the value and time under
// the pointer. The canvas keeps what it drew, so the pointer redraws without the caller.
function plot(canvas, points, options) {
  canvas.plotted = { points, options };
  if (!canvas.hasCrosshair) {
    canvas.hasCrosshair = true;
    canvas.addEventListener("pointermove", (event) => { canvas.pointerX = event.offsetX; replot(canvas); });
    canvas.addEventListener("pointerleave", () => { canvas.pointerX = null; replot(canvas); });
  }
  const { start, end, unit, gapMs } = options;
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth, height = canvas.clientHeight;
  canvas.width = width * ratio; canvas.height = height * ratio;
  const g = canvas.getContext("2d");
  g.scale(ratio, ratio);
  const style = getComputedStyle(document.documentElement);
  const muted = style.getPropertyValue("--muted"), line = style.getPropertyValue("--line");
  g.clearRect(0, 0, width, height);
  g.font = "11px system-ui, sans-serif";
  g.fillStyle = muted;
  if (!points.length) { g.fillText("no data in this range", 12, 20); return; }
  const pad = PLOT_PAD;
  const band = options.band || [];
  let [low, high] = [valueRange(points).low, valueRange(points).high];
  for (const [, bl, bh] of band) { if (bl < low) low = bl; if (bh > high) high = bh; }
  const others = options.others || [];
  for (const other of others) {
    const range = valueRange(other.points);
    if (range) { low = Math.min(low, range.low); high = Math.max(high, range.high); }
  }
  const { x, y } = scales({ start, end, low, high, width, height, pad });
  g.strokeStyle = line; g.lineWidth = 1;
  g.textAlign = "right"; g.textBaseline = "middle";
  for (const v of valueTicks(low, high, Math.max(2, Math.floor(height / 40)))) {
    const py = Math.round(y(v)) + 0.5;
    g.beginPath(); g.moveTo(pad.left, py); g.lineTo(width - pad.right, py); g.stroke();
    g.fillText(formatValue(v) + (unit ? " " + unit : ""), pad.left - 4, py);
  }
  g.textAlign = "center"; g.textBaseline = "alphabetic";
  const { step, ticks } = timeTicks(start, end, Math.max(2, Math.floor(width / 90)));
  for (const t of ticks) {
    const px = Math.round(x(t)) + 0.5;
    g.beginPath(); g.moveTo(px, pad.top); g.lineTo(px, height - pad.bottom); g.stroke();
    const text = timeLabel(t, step), half = g.measureText(text).width / 2;
    if (px - half >= pad.left - 8 && px + half <= width - 1) g.fillText(text, px, height - 5);  // no label cut at the edge
  }
  if (band.length) {
    // Each step's min–max as a band behind the line.
    g.fillStyle = style.getPropertyValue("--accent"); g.globalAlpha = 0.18;
    for (const [t, bl, bh] of band) g.fillRect(Math.round(x(t)) - 1, y(bh), 2, Math.max(1, y(bl) - y(bh)));
    g.globalAlpha = 1;
  }
  if (canvas.selection) {
    const a = Math.min(canvas.selection.x1, canvas.selection.x2), b = Math.max(canvas.selection.x1, canvas.selection.x2);
    g.fillStyle = style.getPropertyValue("--accent"); g.globalAlpha = 0.15;
    g.fillRect(a, pad.top, b - a, height - pad.top - pad.bottom);
    g.globalAlpha = 1;
  }
  g.strokeStyle = style.getPropertyValue("--accent");
  g.lineWidth = 1.5;
  g.beginPath();
  for (const stroke of columns(points, x, gapMs)) {
    stroke.forEach((column, i) => {
      if (i === 0) g.moveTo(column.x, y(column.high)); else g.lineTo(column.x, y(column.high));
      if (column.low !== column.high) g.lineTo(column.x, y(column.low));
    });
  }
  g.stroke();
  // Compared series, each in its colour, after the first.
  for (const other of others) {
    g.strokeStyle = other.colour; g.lineWidth = 1.5;
    g.beginPath();
    for (const stroke of columns(other.points, x, gapMs)) {
      stroke.forEach((column, i) => {
        if (i === 0) g.moveTo(column.x, y(column.high)); else g.lineTo(column.x, y(column.high));
        if (column.low !== column.high) g.lineTo(column.x, y(column.low));
      });
    }
    g.stroke();
  }
  // The crosshair: the reading nearest the pointer in time.
  if (canvas.pointerX == null || canvas.pointerX < pad.left) return;
  const t = start + (canvas.pointerX - pad.left) / (width - pad.left - pad.right) * (end - start);
  let lo = 0, hi = points.length - 1;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (points[mid][0] < t) lo = mid + 1; else hi = mid; }
  if (lo > 0 && t - points[lo - 1][0] < points[lo][0] - t) lo -= 1;
  const [pt, pv] = points[lo];
  const px = x(pt), py = y(pv);
  g.strokeStyle = muted; g.lineWidth = 1;
  g.beginPath(); g.moveTo(px, pad.top); g.lineTo(px, height - pad.bottom); g.stroke();
  g.fillStyle = style.getPropertyValue("--accent");
  g.beginPath(); g.arc(px, py, 3, 0, 2 * Math.PI); g.fill();
  const label = `${formatValue(pv)}${unit ? " " + unit : ""} · ${new Date(pt).toLocaleTimeString()}`;
  g.font = "12px system-ui, sans-serif";
  const w = g.measureText(label).width + 10;
  const lx = Math.min(Math.max(px - w / 2, pad.left), width - pad.right - w);
  g.fillStyle = style.getPropertyValue("--card"); g.fillRect(lx, pad.top, w, 18);
  g.strokeRect(lx + 0.5, pad.top + 0.5, w - 1, 17);
  g.fillStyle = style.getPropertyValue("--fg"); g.textAlign = "left";
  g.fillText(label, lx + 5, pad.top + 13);
  canvas.dataset.crosshair = label;
}

const PLOT_PAD = { left: 58, right: 10, top: 8, bottom: 20 };

function replot(canvas) {
  if (canvas.replotFrame) return;
  canvas.replotFrame = requestAnimationFrame(() => {
    canvas.replotFrame = 0;
    if (canvas.plotted) plot(canvas, canvas.plotted.points, canvas.plotted.options);
  });
}
window.addEventListener("resize", drawSoon);

// ---- the fleet overview: tree, search, filters, and a virtualized grid of cards ------------
// Only the rows of cards in view are in the DOM (plus a couple either side), so 10 000 series
// cost about what 100 do; cards are made when they scroll into view and dropped when they leave.
const SPARK_POINTS = 60, CARD_MIN_WIDTH = 176, ROW_GAP = 10, TREE_ENTRIES_SHOWN = 300;
const fleet = {
  levels: ["site", "device"], view: parseView(""), entries: [], tree: null, match: () => true,
  listDirty: true, treeDirty: true, refresh: 0, columns: 1, rowHeight: 110, window: { first: 0, last: -1 },
  rendered: new Map(), sourcesToggled: false, refusedTopics: [], refusedAt: 0,
  // Every series in tree order, sorted again only when new series arrived: a keystroke filters
  // it and keeps the order.
  sorted: [], sortedCount: -1,
};

function openOverview(view) {
  const changed = view.q !== fleet.view.q || view.filter !== fleet.view.filter || view.path.join("\u0000") !== fleet.view.path.join("\u0000");
  fleet.view = view;
  if ($("#search").value !== view.q) $("#search").value = view.q;
  fleet.match = compileQuery(view.q);
  document.querySelectorAll("#filters button").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.filter === view.filter)));
  if (view.filter === "refused" && Date.now() - fleet.refusedAt > 2000) loadRefused();
  if (view.filter === "stale" && Date.now() - catalog.loadedAt > CATALOG_STALE_MS) loadCatalog();
  if (changed) {
    fleet.listDirty = true; fleet.treeDirty = true; $("#grid-viewport").scrollTop = 0;
    // Cards leave out the labels of the place in the tree: they are made again for the new one.
    for (const entry of fleet.rendered.values()) { entry.card = null; live.dirty.delete(entry); }
    fleet.rendered.clear();
  }
  refreshFleet();
}

// The view is the URL: every change replaces the fragment (search as you type does not pile up
// history entries), and reloading or sharing the link opens the same view.
function setView(change, { push = false } = {}) {
  const view = { ...fleet.view, ...change };
  const hash = formatView(view);
  if (hash === location.hash) return;
  if (push) location.hash = hash; else { history.replaceState(null, "", hash); openOverview(view); }
}

$("#search").addEventListener("input", () => setView({ q: $("#search").value }));
document.querySelectorAll("#filters button").forEach((button) => {
  button.addEventListener("click", () => setView({ filter: button.dataset.filter }, { push: true }));
});
$("#sources-box").addEventListener("toggle", (event) => { if (event.isTrusted !== false) fleet.sourcesToggled = true; });

// "Refused recently": the topics of the payloads refused in the last 10 minutes (the last 100
// rejects the gateway keeps), read when the filter is chosen and every 10 s while it is.
const REFUSED_RECENTLY_MS = 600_000;
async function loadRefused() {
  fleet.refusedAt = Date.now();
  const response = await fetch("/api/v1/ingest/rejects", { credentials: "same-origin" }).catch(() => null);
  if (!response || !response.ok) return;
  const body = await response.json();
  const since = Date.now() - REFUSED_RECENTLY_MS;
  fleet.refusedTopics = [...new Set((body.data || []).filter((r) => r.time * 1000 >= since && r.topic).map((r) => r.topic))];
  if (fleet.view.filter === "refused") { fleet.listDirty = true; refreshFleet(); }
}

function alertingSeries() {
  const set = new Set();
  for (const alert of alertsView.list) if (alert.state === "firing" || alert.state === "pending") set.add(alert.series);
  return set;
}

// Works out the matching series (search and filter), the tree over them, and the cards of the
// selected branch, sorted by tree labels and metric. At most a few times a second.
function refreshFleet() {
  clearTimeout(fleet.refresh); fleet.refresh = 0;
  if ($("#overview").hidden) return;
  const now = Date.now(), view = fleet.view, levels = fleet.levels;
  const alerting = view.filter === "alerting" ? alertingSeries() : null;
  const refused = view.filter === "refused" ? fleet.refusedTopics : null;
  if (fleet.sortedCount !== live.series.size) {
    fleet.sorted = [...live.series.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    fleet.sortedCount = live.series.size;
  }
  const matching = [];
  for (const entry of fleet.sorted) {
    if (!fleet.match(entry.text)) continue;
    if (view.filter === "stale" && now - entry.reading.t <= STALE_MS) continue;
    if (alerting && !alerting.has(entry.reading.series)) continue;
    if (refused && !refused.some((topic) => refusedAt(entry.reading, levels, topic))) continue;
    matching.push(entry);
  }
  if (fleet.treeDirty || fleet.listDirty) { fleet.tree = buildTree(matching.map((e) => e.reading), levels, true); paintTree(); }
  const branch = view.path.length ? matching.filter((entry) => underPath(entry.reading, levels, view.path)) : matching;
  // A device (the tree's last level) gets its page: charts instead of cards.
  const atDevice = view.path.length === levels.length && branch.length > 0;
  $("#grid-viewport").hidden = atDevice;
  $("#device").hidden = !atDevice;
  if (atDevice) showDevice(branch); else closeDevice();
  fleet.entries = atDevice ? [] : branch;
  fleet.listDirty = false; fleet.treeDirty = false;
  $("#fleet-count").textContent = `${branch.length} of ${live.series.size} series`;
  paintCrumbs();
  layoutGrid(true);
}

function paintTree() {
  const tree = $("#tree"), view = fleet.view, items = [];
  const link = (text, count, path, level) => {
    const a = document.createElement("a");
    a.href = formatView({ ...view, path });
    a.className = `level-${level}`;
    a.dataset.path = JSON.stringify(path);
    const name = document.createElement("span"); name.textContent = text;
    const number = document.createElement("span"); number.className = "count"; number.textContent = String(count);
    a.append(name, number);
    if (JSON.stringify(path) === JSON.stringify(view.path)) a.setAttribute("aria-current", "true");
    return a;
  };
  items.push(link("All", fleet.tree.count, [], 0));
  // Each level lists the children of the node chosen at the level above: a fleet of thousands
  // stays a screen of sites, then of one site's devices. Long levels are cut (search narrows).
  const walk = (node, depth, prefix) => {
    let shown = 0;
    for (const [name, child] of node.children) {
      if (shown++ >= TREE_ENTRIES_SHOWN) {
        const more = document.createElement("div");
        more.className = "more"; more.textContent = `… ${node.children.size - TREE_ENTRIES_SHOWN} more: search to narrow`;
        items.push(more);
        break;
      }
      const path = [...prefix, name];
      items.push(link(name, child.count, path, depth + 1));
      if (depth + 1 < fleet.levels.length && view.path[depth] === name) walk(child, depth + 1, path);
    }
  };
  walk(fleet.tree, 0, []);
  tree.replaceChildren(...items);
}

function paintCrumbs() {
  const crumbs = $("#crumbs"), view = fleet.view, parts = [];
  const add = (text, path) => {
    const a = document.createElement("a");
    a.href = formatView({ ...view, path }); a.textContent = text;
    parts.push(a);
  };
  add("All", []);
  view.path.forEach((value, i) => { parts.push(document.createTextNode(" › ")); add(`${fleet.levels[i]} ${value}`, view.path.slice(0, i + 1)); });
  crumbs.replaceChildren(...parts);
}

// Columns from the viewport's width, the spacer as tall as every row, and the cards of the rows
// in view. `force`: the list changed, so every card on screen is checked again.
function layoutGrid(force = false) {
  const viewport = $("#grid-viewport"), grid = $("#grid");
  const width = viewport.clientWidth || 800;
  const columns = Math.max(1, Math.floor((width + ROW_GAP) / (CARD_MIN_WIDTH + ROW_GAP)));
  const first = grid.firstElementChild;
  const rowHeight = (first ? first.offsetHeight : 100) + ROW_GAP;
  const rows = Math.ceil(fleet.entries.length / columns);
  const window = visibleRows({ scrollTop: viewport.scrollTop, viewport: viewport.clientHeight || 600, rowHeight, count: rows, overscan: 2 });
  if (!force && columns === fleet.columns && rowHeight === fleet.rowHeight &&
      window.first === fleet.window.first && window.last === fleet.window.last) return;
  fleet.columns = columns; fleet.rowHeight = rowHeight; fleet.window = window;
  $("#grid-spacer").style.height = `${rows * rowHeight}px`;
  grid.style.gridTemplateColumns = `repeat(${columns}, minmax(0, 1fr))`;
  grid.style.transform = `translateY(${window.first * rowHeight}px)`;
  const shown = fleet.entries.slice(window.first * columns, (window.last + 1) * columns);
  const keep = new Set(shown);
  for (const [series, entry] of fleet.rendered) {
    if (!keep.has(entry)) { entry.card = null; fleet.rendered.delete(series); live.dirty.delete(entry); }
  }
  const now = Date.now();
  const cards = shown.map((entry) => {
    if (!entry.card) {
      entry.card = makeCard(entry.reading);
      fleet.rendered.set(entry.reading.series, entry);
      paintCard(entry, now);
    }
    return entry.card;
  });
  grid.replaceChildren(...cards);
  paintAlerting();
  watchSoon();
}
$("#grid-viewport").addEventListener("scroll", () => { if (!fleet.scrollFrame) fleet.scrollFrame = requestAnimationFrame(() => { fleet.scrollFrame = 0; layoutGrid(); }); }, { passive: true });
window.addEventListener("resize", () => layoutGrid(true));

function makeCard(reading) {
  const card = document.createElement("div");
  card.className = "card";
  card.setAttribute("role", "group");
  card.dataset.series = reading.series;
  // Under the metric, where it is: the tree's labels as values (device first, the place in
  // the tree left off), then the other labels as name=value.
  const all = reading.labels || {}, levels = fleet.levels;
  const place = levels.slice(fleet.view.path.length).reverse().map((level) => all[level]).filter(Boolean);
  const others = Object.entries(all).filter(([name]) => name !== "source" && !levels.includes(name)).map(([name, value]) => `${name}=${value}`);
  const labels = [...place, ...others].join(" · ");
  card.tabIndex = 0;
  const open = () => { location.hash = "#series/" + encodeURIComponent(reading.series); };
  card.addEventListener("click", open);
  card.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); open(); } });
  card.innerHTML = '<div class="name"></div><div class="where"></div>' +
    '<div><span class="value"></span><span class="unit"></span><span class="trend"></span></div>' +
    '<svg class="spark" viewBox="0 0 100 20" preserveAspectRatio="none" aria-hidden="true"><polyline/></svg>';
  card.querySelector(".name").textContent = reading.metric;
  card.querySelector(".where").textContent = labels;
  card.querySelector(".where").title = reading.series;
  card.setAttribute("aria-label", `${reading.metric} ${labels}`);
  return card;
}

function paintCards() {
  live.frame = 0;
  const now = Date.now();
  for (const entry of live.dirty) if (entry.card) paintCard(entry, now);
  live.dirty.clear();
}

function paintCard(entry, now) {
  const { reading, previous, card } = entry;
  card.querySelector(".value").textContent = reading.v === null ? "—" : formatValue(reading.v);
  card.querySelector(".unit").textContent = reading.unit || "";
  card.querySelector(".trend").textContent = previous === null || previous === reading.v ? "" : reading.v > previous ? "▲" : "▼";
  card.querySelector(".spark polyline").setAttribute("points", sparkPoints(entry));
  paintAge(entry, now);
}

// A series came into view with its recent history: its sparkline starts from it.
function sparkHistory({ series, points }) {
  const entry = live.series.get(series);
  if (!entry || !points) return;
  const values = points.filter(([, v]) => Number.isFinite(v)).slice(-SPARK_POINTS).map(([, v]) => v);
  const last = points.length ? points[points.length - 1][0] : -Infinity;
  if (entry.reading.v !== null && entry.reading.t > last) values.push(entry.reading.v);
  const kept = values.slice(-SPARK_POINTS);
  kept.forEach((v, i) => { entry.spark[i] = v; });
  entry.sparkCount = kept.length;
  if (entry.card) { live.dirty.add(entry); if (!live.frame) live.frame = requestAnimationFrame(paintCards); }
}

// The last readings (up to SPARK_POINTS) as a polyline in a 100 × 20 box.
function sparkPoints(entry) {
  const count = Math.min(entry.sparkCount, SPARK_POINTS);
  if (count < 2) return "";
  const values = [];
  for (let i = entry.sparkCount - count; i < entry.sparkCount; i++) values.push(entry.spark[i % SPARK_POINTS]);
  let low = Math.min(...values), high = Math.max(...values);
  if (low === high) { low -= 1; high += 1; }
  return values.map((v, i) => `${(i / (count - 1) * 100).toFixed(1)},${(18 - (v - low) / (high - low) * 16).toFixed(1)}`).join(" ");
}

function paintAge(entry, now) {
  const age = now - entry.reading.t;
  entry.card.classList.toggle("stale", age > STALE_MS && age <= DEAD_MS);
  entry.card.classList.toggle("dead", age > DEAD_MS);
  entry.card.title = `last reading ${new Date(entry.reading.t).toLocaleTimeString()}`;
}

// Cards of series with a firing or pending alert are marked.
function paintAlerting() {
  const alerting = alertingSeries();
  for (const entry of fleet.rendered.values()) entry.card.classList.toggle("alerting", alerting.has(entry.reading.series));
}

// ---- a device: its alerts and a chart per metric ---------------------------------------------
// The tree's last level opens the device's page: its firing and pending alerts (ack and silence
// for operators) and every metric with its live value, last reading time, source and the last
// hour from the query API, live points appended.
const DEVICE_RANGE_MS = 3_600_000, DEVICE_STEP_S = 15, DEVICE_PANELS = 60;
const device = { key: "", entries: [] };

function showDevice(entries) {
  const key = fleet.view.path.join("\u0000") + "\u0001" + entries.length;
  paintDeviceAlerts();
  if (key === device.key) return;
  closeDevice();
  device.key = key;
  device.entries = entries.slice(0, DEVICE_PANELS);
  watchSoon();
  const end = Math.ceil(Date.now() / 1000 / DEVICE_STEP_S) * DEVICE_STEP_S;
  $("#device-panels").replaceChildren(...device.entries.map((entry) => {
    const panel = document.createElement("section");
    panel.className = "panel";
    panel.dataset.series = entry.reading.series;
    panel.innerHTML = '<h3><a></a></h3><div class="meta where"></div><div><span class="value"></span><span class="unit"></span></div>' +
      '<div class="meta when"></div><canvas role="img"></canvas>';
    const link = panel.querySelector("h3 a");
    link.textContent = entry.reading.metric;
    link.href = "#series/" + encodeURIComponent(entry.reading.series);
    const labels = entry.reading.labels || {};
    panel.querySelector(".where").textContent = Object.entries(labels).filter(([name]) => !fleet.levels.includes(name))
      .map(([name, value]) => `${name}=${value}`).join(" · ");
    panel.querySelector("canvas").setAttribute("aria-label", `chart of ${entry.reading.series}`);
    entry.panel = { element: panel, points: [], loaded: false };
    paintPanel(entry);
    loadPanel(entry, end);
    return panel;
  }));
}

function closeDevice() {
  if (device.entries.length) watchSoon();
  for (const entry of device.entries) entry.panel = null;
  device.entries = []; device.key = "";
}

async function loadPanel(entry, end) {
  const query = new URLSearchParams({ query: entry.reading.series, start: String(end - DEVICE_RANGE_MS / 1000), end: String(end),
                                      step: `${DEVICE_STEP_S}s`, agg: "avg" });
  const response = await fetch(`/api/v1/query_range?${query}`, { credentials: "same-origin" }).catch(() => null);
  if (!entry.panel || !response || !response.ok) return;
  const body = await response.json();
  const result = (body.data && body.data.result && body.data.result[0]) || { values: [] };
  // The last step ends at the next step boundary, which can be ahead of now: it is drawn at now,
  // so the live points that follow it are not taken for older ones.
  const loadedAt = Date.now();
  const history = result.values.map(([t, v]) => [Math.min(Math.round(t * 1000), loadedAt), Number(v)]).filter(([, v]) => Number.isFinite(v));
  // Live points that arrived while the history loaded stay, after it.
  const last = history.length ? history[history.length - 1][0] : -Infinity;
  entry.panel.points = history.concat(entry.panel.points.filter(([t]) => t > last));
  entry.panel.loaded = true;
  entry.panel.element.querySelector("canvas").dataset.points = String(entry.panel.points.length);
  drawPanel(entry);
}

function devicePoint(entry, reading) {
  const points = entry.panel.points;
  if (!points.length || reading.t > points[points.length - 1][0]) points.push([reading.t, reading.v]);
  const oldest = Date.now() - DEVICE_RANGE_MS;
  while (points.length && points[0][0] < oldest) points.shift();
  paintPanel(entry);
  if (entry.panel.loaded) drawPanel(entry);
}

function paintPanel(entry) {
  const { reading, panel } = entry;
  const element = panel.element;
  element.querySelector(".value").textContent = reading.v === null ? "—" : formatValue(reading.v);
  element.querySelector(".unit").textContent = reading.unit || "";
  const source = (reading.labels && reading.labels.source) ? ` · source ${reading.labels.source}` : "";
  element.querySelector(".when").textContent = `last reading ${new Date(reading.t).toLocaleTimeString()}${source}`;
  const age = Date.now() - reading.t;
  element.classList.toggle("stale", age > STALE_MS && age <= DEAD_MS);
  element.classList.toggle("dead", age > DEAD_MS);
  element.classList.toggle("alerting", alertingSeries().has(reading.series));
}

function drawPanel(entry) {
  if (entry.panel.frame) return;
  entry.panel.frame = requestAnimationFrame(() => {
    if (!entry.panel) return;
    entry.panel.frame = 0;
    const canvas = entry.panel.element.querySelector("canvas");
    const end = Date.now();
    plot(canvas, entry.panel.points, { start: end - DEVICE_RANGE_MS, end, unit: entry.reading.unit || "", gapMs: 3 * DEVICE_STEP_S * 1000 + 10_000 });
  });
}

// The device's alerts: those whose labels put them at the device's place in the tree.
function paintDeviceAlerts() {
  if ($("#device").hidden) return;
  const path = fleet.view.path, levels = fleet.levels;
  const mine = alertsView.list.filter((alert) => alert.state !== "resolved" &&
    path.every((value, i) => ((alert.labels || {})[levels[i]] || NO_LABEL_TEXT) === value));
  $("#device-alerts").hidden = mine.length === 0;
  $("#device-alerts tbody").replaceChildren(...mine.map(alertRow));
}
const NO_LABEL_TEXT = "(none)";
window.addEventListener("resize", () => { for (const entry of device.entries) if (entry.panel && entry.panel.loaded) drawPanel(entry); });

window.addEventListener("online", () => { if (live.wanted && !live.socket) connect(); });
boot();
