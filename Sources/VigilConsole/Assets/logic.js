"use strict";
// The console's pure parts: no DOM, no network, no clock of their own. console.js uses them in the
// browser; Tests/console/*.test.js runs them under node (make test).
const VigilLogic = (() => {
  const BACKOFF_BASE_MS = 500, BACKOFF_CAP_MS = 30_000;

  // Reconnect delay with full jitter: uniform in [0, min(cap, base * 2^attempt)), so many consoles
  // that lose the gateway at once do not come back at once. `random` is in [0, 1).
  function backoffDelay(attempt, random = Math.random()) {
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 30));
    return random * ceiling;
  }

  // The live stream numbers messages without gaps (resume replays, resync re-snapshots), so the
  // next update must be seq + 1; anything else means something was lost.
  function createSequence() {
    return {
      seq: 0,
      // A snapshot or a fresh stream sets the number.
      reset(seq = 0) { this.seq = seq; },
      // "ok" (and the number advances), or "gap" (the caller starts over).
      accept(seq) {
        if (this.seq && seq !== this.seq + 1) return "gap";
        this.seq = seq;
        return "ok";
      },
    };
  }

  // A reading's value as the cards and axes show it: integers and large values with at most two
  // decimals, small values with one or two.
  function formatValue(value) {
    if (value === null || value === undefined || !Number.isFinite(value)) return "—";
    const magnitude = Math.abs(value);
    // Past 2^53 rounding to cents prints digits that are not there (1e21 as 999999999999999900000).
    if (magnitude >= 1e15) return String(Number(value.toPrecision(6)));
    return magnitude >= 1000 || Number.isInteger(value) ? String(Math.round(value * 100) / 100)
      : value.toFixed(magnitude >= 10 ? 1 : 2);
  }

  // The value range of the points, widened when flat so a constant series draws mid-height.
  function valueRange(points) {
    let low = Infinity, high = -Infinity;
    for (const [, v] of points) { if (v < low) low = v; if (v > high) high = v; }
    if (low === Infinity) return null;
    if (low === high) { low -= 1; high += 1; }
    return { low, high };
  }

  // Maps time and value to pixels inside the padded plot area.
  function scales({ start, end, low, high, width, height, pad }) {
    return {
      x: (t) => pad.left + (t - start) / (end - start) * (width - pad.left - pad.right),
      y: (v) => pad.top + (high - v) / (high - low) * (height - pad.top - pad.bottom),
    };
  }

  // Thousands of points become one vertical min-max stroke per pixel column; a gap longer than
  // `gapMs` (the gateway or the device was down) starts a new line. Returns the lines, each a list
  // of { x, low, high } columns.
  function columns(points, x, gapMs) {
    const lines = [];
    let line = null, column = null, lastT = null;
    for (const [t, v] of points) {
      const px = Math.round(x(t));
      if (lastT !== null && t - lastT > gapMs) line = null;
      if (!line) { line = []; lines.push(line); column = null; }
      if (!column || column.x !== px) { column = { x: px, low: v, high: v }; line.push(column); }
      else { if (v < column.low) column.low = v; if (v > column.high) column.high = v; }
      lastT = t;
    }
    return lines;
  }

  // An alert's own labels as a selector (severity left out): a silence for exactly this alert.
  function matchersFor(labels) {
    const quote = (value) => '"' + value.replace(/\\/g, "\\\\").replace(/"/g, '\\"') + '"';
    return "{" + Object.entries(labels).filter(([name]) => name !== "severity")
      .map(([name, value]) => `${name}=${quote(value)}`).join(",") + "}";
  }

  // ---- axes -----------------------------------------------------------------------------------

  // Value ticks at round numbers (1, 2 or 5 × 10^k apart), about `count` of them in [low, high].
  function valueTicks(low, high, count = 5) {
    if (!(high > low)) return [low];
    const rough = (high - low) / Math.max(1, count);
    const power = 10 ** Math.floor(Math.log10(rough));
    const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) || 10 * power;
    const ticks = [];
    for (let v = Math.ceil(low / step) * step; v <= high + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
    return ticks;
  }

  // Time ticks at round local times (every 1 s … 1 d), about `count` of them in [start, end] ms.
  // `offsetMinutes(t)` is the local zone's offset from UTC at t (Date's getTimezoneOffset, negated),
  // so ticks fall on local minutes, hours and midnights.
  const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400]
    .map((s) => s * 1000);
  function timeTicks(start, end, count = 6, offsetMinutes = (t) => -new Date(t).getTimezoneOffset()) {
    if (!(end > start)) return { step: 0, ticks: [] };
    const step = TIME_STEPS.find((s) => (end - start) / s <= count) || TIME_STEPS[TIME_STEPS.length - 1];
    const ticks = [];
    const offset = offsetMinutes(start) * 60_000;
    for (let t = Math.ceil((start + offset) / step) * step - offset; t <= end; t += step) ticks.push(t);
    return { step, ticks };
  }

  // A tick's label in the reader's locale: hours and minutes, with seconds when the step is under
  // a minute; the date for steps of a day.
  function timeLabel(t, step, locale = undefined) {
    const d = new Date(t);
    if (step >= 86_400_000) return d.toLocaleDateString(locale, { month: "numeric", day: "numeric" });
    return d.toLocaleTimeString(locale, step < 60_000 ? { hour: "2-digit", minute: "2-digit", second: "2-digit" }
                                                      : { hour: "2-digit", minute: "2-digit" });
  }

  // ---- zoom -----------------------------------------------------------------------------------

  // The time window a drag from pixel x1 to x2 selects on a plot of [start, end] ms; null for a
  // drag under 5 px (a click).
  function zoomWindow(x1, x2, { start, end, width, pad }) {
    const left = Math.max(pad.left, Math.min(x1, x2)), right = Math.min(width - pad.right, Math.max(x1, x2));
    if (right - left < 5) return null;
    const t = (px) => Math.round(start + (px - pad.left) / (width - pad.left - pad.right) * (end - start));
    return { start: t(left), end: t(right) };
  }

  // Series compared on one chart at most (beyond a handful, lines are no longer told apart).
  const MAX_COMPARED = 5;

  // A query step for a span: about 300 points, at a round number of seconds.
  const STEPS_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400];
  function stepFor(spanMs, points = 300) {
    return STEPS_S.find((s) => spanMs / 1000 / s <= points) || STEPS_S[STEPS_S.length - 1];
  }

  // The series view's URL: `#series/<series>?range=1h`, zoomed `…&from=<ms>&to=<ms>`, and each
  // series compared on the same chart as `&with=<series>`.
  function parseSeriesView(hash) {
    const text = String(hash || "");
    if (!text.startsWith("#series/")) return null;
    const [encoded, query = ""] = text.slice(8).split("?", 2);
    const params = new URLSearchParams(query);
    const from = Number(params.get("from")), to = Number(params.get("to"));
    const series = decodeURIComponent(encoded);
    return { series, range: params.get("range") || "",
             zoom: Number.isFinite(from) && Number.isFinite(to) && to > from && params.has("from") ? { start: from, end: to } : null,
             compare: [...new Set(params.getAll("with"))].filter((other) => other && other !== series).slice(0, MAX_COMPARED) };
  }
  function formatSeriesView({ series, range, zoom, compare = [] }) {
    const params = new URLSearchParams();
    if (range) params.set("range", range);
    if (zoom) { params.set("from", String(Math.round(zoom.start))); params.set("to", String(Math.round(zoom.end))); }
    for (const other of compare) params.append("with", other);
    const query = params.toString();
    return "#series/" + encodeURIComponent(series) + (query ? "?" + query : "");
  }

  // ---- the fleet: tree, search, filters, the view in the URL --------------------------------

  const NO_LABEL = "(none)";

  // The navigation tree from the series' labels: one level per name in `levels` (site, then
  // device, by default), each node with the number of series under it. A series without one of
  // the labels sits under "(none)" at that level. Children sorted by name.
  // `presorted`: the series come in tree order already (by `sortKey`), so each level's children
  // are inserted in order and need no sorting (a collator over thousands of devices per keystroke).
  function buildTree(seriesList, levels, presorted = false) {
    const root = { name: "", count: 0, children: new Map() };
    for (const series of seriesList) {
      root.count += 1;
      let node = root;
      for (const level of levels) {
        const value = (series.labels && series.labels[level]) || NO_LABEL;
        let child = node.children.get(value);
        if (!child) { child = { name: value, count: 0, children: new Map() }; node.children.set(value, child); }
        child.count += 1;
        node = child;
      }
    }
    const sort = (node) => {
      node.children = new Map([...node.children.entries()].sort(([a], [b]) => compareNames(a, b)));
      node.children.forEach(sort);
    };
    if (!presorted) sort(root);
    return root;
  }

  // Names as people sort them: boiler-2 before boiler-10, case aside; "(none)" last.
  const collator = typeof Intl !== "undefined" ? new Intl.Collator(undefined, { numeric: true, sensitivity: "base" }) : null;
  function compareNames(a, b) {
    if (a === NO_LABEL || b === NO_LABEL) return (a === NO_LABEL) - (b === NO_LABEL);
    return collator ? collator.compare(a, b) : a < b ? -1 : a > b ? 1 : 0;
  }

  // A string that sorts a series by its tree labels, then metric, then the rest, as people sort
  // (numbers by value, case aside, unlabelled last), with plain `<`: sorting 10 000 series with a
  // collator on every comparison took longer than a keystroke may.
  function sortKey(series, levels) {
    const natural = (text) => text === NO_LABEL ? "\uffff" : text.toLowerCase().replace(/\d+/g, (d) => d.padStart(12, "0"));
    const parts = levels.map((level) => natural((series.labels && series.labels[level]) || NO_LABEL));
    parts.push(natural(series.metric || ""), series.series || "");
    return parts.join("\u0001");
  }

  // The text a series is searched by, built once per series: metric, label values and
  // name=value pairs, lower case.
  function searchText(series) {
    const labels = Object.entries(series.labels || {});
    return [series.metric, ...labels.map(([, v]) => v), ...labels.map(([n, v]) => `${n}=${v}`)].join("\n").toLowerCase();
  }

  // Every word of the query must occur in the series' search text (as a substring).
  function compileQuery(query) {
    const words = String(query || "").toLowerCase().split(/\s+/).filter(Boolean);
    return (text) => words.every((word) => text.includes(word));
  }

  // The visible part of a virtualized list of `count` rows of `rowHeight` px, scrolled to
  // `scrollTop` in a viewport of `viewport` px, with `overscan` rows either side.
  function visibleRows({ scrollTop, viewport, rowHeight, count, overscan = 2 }) {
    if (count <= 0 || rowHeight <= 0) return { first: 0, last: -1 };
    const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
    const last = Math.min(count - 1, Math.ceil((scrollTop + viewport) / rowHeight) + overscan - 1);
    return { first, last: Math.max(first - 1, last) };
  }

  // The overview's state as a URL fragment and back: `#overview?site=a&device=b&q=temp&filter=stale`.
  // Unknown keys and filters are dropped; the order of keys is fixed so a view has one URL.
  const FILTERS = ["stale", "alerting", "refused"];
  function parseView(hash) {
    const text = String(hash || "").replace(/^#/, "");
    const [page, query = ""] = text.split("?", 2);
    const params = new URLSearchParams(query);
    const view = { page: page || "overview", path: [], q: params.get("q") || "", filter: "" };
    for (const value of params.getAll("at")) view.path.push(value);
    if (FILTERS.includes(params.get("filter"))) view.filter = params.get("filter");
    return view;
  }
  function formatView(view) {
    const params = new URLSearchParams();
    for (const value of view.path || []) params.append("at", value);
    if (view.q) params.set("q", view.q);
    if (view.filter) params.set("filter", view.filter);
    const query = params.toString();
    return "#" + (view.page || "overview") + (query ? "?" + query : "");
  }

  // Whether a refused message (its topic, from /api/v1/ingest/rejects) was about this series'
  // place: every tree label the series has is a level of the topic (`sensors/site-2/boiler-02/…`
  // for site-2, boiler-02). Rejects carry no labels (the message made no reading), so this is how
  // the "refused recently" filter finds devices whose payloads are being refused.
  function refusedAt(series, levels, topic) {
    const parts = new Set(String(topic || "").split("/"));
    const values = levels.map((level) => series.labels && series.labels[level]).filter(Boolean);
    return values.length > 0 && values.every((value) => parts.has(value));
  }

  // Whether a series is under the tree node at `path` (values of `levels`, outermost first).
  function underPath(series, levels, path) {
    for (let i = 0; i < path.length && i < levels.length; i++) {
      if (((series.labels && series.labels[levels[i]]) || NO_LABEL) !== path[i]) return false;
    }
    return true;
  }

  // The console subscribes to the series on its screen only, and as the screen changes sends what
  // to add and what to drop: removals first (they free the gateway's work), then additions, at
  // most WATCH_CHUNK series and about WATCH_BYTES of names per message (the gateway takes
  // messages up to 64 KiB, and a series with many labels has a long name). `subscribed` and
  // `wanted` are Sets of series names.
  const WATCH_CHUNK = 300, WATCH_BYTES = 24_000;
  function watchChanges(subscribed, wanted, chunk = WATCH_CHUNK, bytes = WATCH_BYTES) {
    const messages = [];
    let current = null, size = 0;
    const put = (kind, series) => {
      const cost = series.length * 2 + 8;  // quotes and escapes; UTF-16 length as a bound
      if (!current || current.add.length + current.remove.length >= chunk || size + cost > bytes) {
        current = { add: [], remove: [] }; size = 0;
        messages.push(current);
      }
      current[kind].push(series);
      size += cost;
    };
    for (const series of subscribed) if (!wanted.has(series)) put("remove", series);
    for (const series of wanted) if (!subscribed.has(series)) put("add", series);
    return messages;
  }

  return { watchChanges, WATCH_CHUNK, WATCH_BYTES, backoffDelay, createSequence, formatValue, valueRange, scales, columns, matchersFor, BACKOFF_BASE_MS, BACKOFF_CAP_MS,
           valueTicks, timeTicks, timeLabel, zoomWindow, stepFor, parseSeriesView, formatSeriesView, MAX_COMPARED, buildTree, compareNames, sortKey, searchText, compileQuery, visibleRows, parseView, formatView, underPath, refusedAt, NO_LABEL, FILTERS };
})();

if (typeof module !== "undefined") module.exports = VigilLogic;
