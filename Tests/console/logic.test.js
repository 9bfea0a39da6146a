"use strict";
// The console's pure parts under node's own test runner (Debian nodejs): `node --test Tests/console`.
const test = require("node:test");
const assert = require("node:assert/strict");
const logic = require("../../Sources/VigilConsole/Assets/logic.js");

test("backoff: full jitter under a ceiling that doubles from 500 ms and stops at 30 s", () => {
  assert.equal(logic.backoffDelay(0, 0), 0);
  assert.equal(logic.backoffDelay(0, 0.999999), 0.999999 * 500);
  assert.equal(logic.backoffDelay(3, 0.5), 0.5 * 4000);
  assert.equal(logic.backoffDelay(6, 0.999999), 0.999999 * 30_000);
  assert.equal(logic.backoffDelay(1000, 0.5), 15_000);  // no overflow to Infinity
  for (let attempt = 0; attempt < 20; attempt++) {
    const delay = logic.backoffDelay(attempt);
    assert.ok(delay >= 0 && delay < logic.BACKOFF_CAP_MS, `attempt ${attempt}: ${delay}`);
  }
});

test("sequence: updates must follow one by one; a snapshot sets the number; a gap is reported", () => {
  const sequence = logic.createSequence();
  assert.equal(sequence.accept(1), "ok");  // the first update of a fresh stream
  assert.equal(sequence.accept(2), "ok");
  assert.equal(sequence.accept(4), "gap");
  assert.equal(sequence.seq, 2, "a gap does not move the number");
  assert.equal(sequence.accept(2), "gap", "a repeat is a gap too");
  sequence.reset(10);
  assert.equal(sequence.accept(11), "ok");
  sequence.reset();
  assert.equal(sequence.accept(57), "ok", "after a reset the next number is taken as it comes");
});

test("values: integers and large values plainly, small ones with one or two decimals, missing as a dash", () => {
  assert.equal(logic.formatValue(21), "21");
  assert.equal(logic.formatValue(21.456), "21.5");
  assert.equal(logic.formatValue(3.14159), "3.14");
  assert.equal(logic.formatValue(-0.5), "-0.50");
  assert.equal(logic.formatValue(12345.678), "12345.68");
  assert.equal(logic.formatValue(1e21), "1e+21");
  assert.equal(logic.formatValue(null), "—");
  assert.equal(logic.formatValue(NaN), "—");
});

test("chart scaling: the range of the points, widened when flat; pixels inside the padding", () => {
  assert.equal(logic.valueRange([]), null);
  assert.deepEqual(logic.valueRange([[0, 5], [1, -2], [2, 7]]), { low: -2, high: 7 });
  assert.deepEqual(logic.valueRange([[0, 3], [1, 3]]), { low: 2, high: 4 });
  const pad = { left: 50, right: 10, top: 10, bottom: 20 };
  const { x, y } = logic.scales({ start: 1000, end: 2000, low: 0, high: 100, width: 560, height: 230, pad });
  assert.equal(x(1000), 50);
  assert.equal(x(2000), 550);
  assert.equal(x(1500), 300);
  assert.equal(y(100), 10);
  assert.equal(y(0), 210);
  assert.equal(y(50), 110);
});

test("chart columns: one min-max per pixel, a long gap starts a new line", () => {
  const x = (t) => t / 10;  // 10 ms per pixel
  const points = [[0, 1], [3, 5], [7, 2], [10, 4], [20, 3], [500, 9], [505, 1]];
  const lines = logic.columns(points, x, 100);
  assert.equal(lines.length, 2);
  assert.deepEqual(lines[0], [{ x: 0, low: 1, high: 5 }, { x: 1, low: 2, high: 4 }, { x: 2, low: 3, high: 3 }]);
  assert.deepEqual(lines[1], [{ x: 50, low: 9, high: 9 }, { x: 51, low: 1, high: 1 }]);
  assert.deepEqual(logic.columns([], x, 100), []);
  // 100 000 points into 500 columns.
  const many = Array.from({ length: 100_000 }, (_, i) => [i, Math.sin(i)]);
  const wide = logic.columns(many, (t) => t / 200, 1000);
  assert.equal(wide.length, 1);
  assert.equal(wide[0].length, 501);
});

test("silence matchers: the alert's labels without severity, quoted and escaped", () => {
  assert.equal(logic.matchersFor({ alertname: "Hot", device: "boiler", severity: "critical" }), '{alertname="Hot",device="boiler"}');
  assert.equal(logic.matchersFor({ path: 'C:\\dir "x"' }), '{path="C:\\\\dir \\"x\\""}');
});

// ---- the fleet: tree, search, virtual rows, the view in the URL ----------------------------

const fleet = [
  { metric: "temperature", labels: { site: "north", device: "boiler-10" } },
  { metric: "temperature", labels: { site: "north", device: "boiler-2" } },
  { metric: "pressure", labels: { site: "north", device: "boiler-2" } },
  { metric: "flow", labels: { site: "South", device: "pump-1" } },
  { metric: "vigil_self_up", labels: {} },
];

test("tree: sites then devices from the labels, counted, sorted as people sort, unlabelled last", () => {
  const tree = logic.buildTree(fleet, ["site", "device"]);
  assert.equal(tree.count, 5);
  assert.deepEqual([...tree.children.keys()], ["north", "South", logic.NO_LABEL]);
  const north = tree.children.get("north");
  assert.equal(north.count, 3);
  assert.deepEqual([...north.children.keys()], ["boiler-2", "boiler-10"]);
  assert.equal(north.children.get("boiler-2").count, 2);
  assert.deepEqual([...tree.children.get(logic.NO_LABEL).children.keys()], [logic.NO_LABEL]);
  // Any labels can make the tree.
  assert.deepEqual([...logic.buildTree(fleet, ["device"]).children.keys()], ["boiler-2", "boiler-10", "pump-1", logic.NO_LABEL]);
});

test("tree: 10 000 series are grouped in well under a frame's budget of a second", () => {
  const many = [];
  for (let i = 0; i < 10_000; i++) many.push({ metric: `m${i % 4}`, labels: { site: `site-${i % 10}`, device: `dev-${i % 2500}` } });
  const started = process.hrtime.bigint();
  const tree = logic.buildTree(many, ["site", "device"]);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  assert.equal(tree.children.size, 10);
  assert.ok(ms < 1000, `${ms} ms`);
});

test("search: every word must match the metric, a label value or name=value, in any case", () => {
  const texts = fleet.map(logic.searchText);
  const hits = (query) => texts.map((text, i) => (logic.compileQuery(query)(text) ? i : -1)).filter((i) => i >= 0);
  assert.deepEqual(hits("boiler"), [0, 1, 2]);
  assert.deepEqual(hits("TEMP boiler-2"), [1]);
  assert.deepEqual(hits("site=south"), [3]);
  assert.deepEqual(hits("  "), [0, 1, 2, 3, 4], "an empty query matches everything");
  assert.deepEqual(hits("nothing-like-this"), []);
});

test("virtual rows: only the rows in view plus the overscan, whatever the count", () => {
  assert.deepEqual(logic.visibleRows({ scrollTop: 0, viewport: 500, rowHeight: 100, count: 10_000, overscan: 2 }), { first: 0, last: 6 });
  assert.deepEqual(logic.visibleRows({ scrollTop: 250_000, viewport: 500, rowHeight: 100, count: 10_000, overscan: 2 }), { first: 2498, last: 2506 });
  assert.deepEqual(logic.visibleRows({ scrollTop: 999_900, viewport: 500, rowHeight: 100, count: 10_000, overscan: 2 }), { first: 9997, last: 9999 });
  assert.deepEqual(logic.visibleRows({ scrollTop: 0, viewport: 500, rowHeight: 100, count: 0 }), { first: 0, last: -1 });
  assert.deepEqual(logic.visibleRows({ scrollTop: 5000, viewport: 500, rowHeight: 100, count: 3 }), { first: 48, last: 47 }, "scrolled past the end: nothing");
});

test("views: the overview's place, search and filter round-trip through the URL fragment", () => {
  const view = { page: "overview", path: ["north", "boiler 2/α"], q: "temp hot", filter: "stale" };
  const hash = logic.formatView(view);
  assert.equal(hash, "#overview?at=north&at=boiler+2%2F%CE%B1&q=temp+hot&filter=stale");
  assert.deepEqual(logic.parseView(hash), view);
  assert.deepEqual(logic.parseView(""), { page: "overview", path: [], q: "", filter: "" });
  assert.deepEqual(logic.parseView("#overview?filter=bogus&x=1"), { page: "overview", path: [], q: "", filter: "" });
  assert.equal(logic.formatView({ page: "overview", path: [], q: "", filter: "" }), "#overview");
});

test("paths: a series is under a tree node when its labels match the node's path", () => {
  const levels = ["site", "device"];
  assert.ok(logic.underPath(fleet[1], levels, ["north", "boiler-2"]));
  assert.ok(logic.underPath(fleet[1], levels, ["north"]));
  assert.ok(logic.underPath(fleet[1], levels, []));
  assert.ok(!logic.underPath(fleet[0], levels, ["north", "boiler-2"]));
  assert.ok(logic.underPath(fleet[4], levels, [logic.NO_LABEL, logic.NO_LABEL]));
});

test("sort keys: by tree labels, then metric, numbers by value, case aside, unlabelled last", () => {
  const levels = ["site", "device"];
  const key = (metric, labels) => logic.sortKey({ metric, labels, series: metric + JSON.stringify(labels) }, levels);
  const sorted = [
    key("temp", { site: "north", device: "boiler-10" }), key("temp", {}), key("flow", { site: "North", device: "boiler-2" }),
    key("temp", { site: "north", device: "boiler-2" }), key("temp", { site: "east" }),
  ].sort();
  assert.deepEqual(sorted, [
    key("temp", { site: "east" }), key("flow", { site: "North", device: "boiler-2" }), key("temp", { site: "north", device: "boiler-2" }),
    key("temp", { site: "north", device: "boiler-10" }), key("temp", {}),
  ]);
});

test("tree: series given in sort-key order make the same tree without sorting", () => {
  const levels = ["site", "device"];
  const ordered = fleet.slice().sort((a, b) => (logic.sortKey(a, levels) < logic.sortKey(b, levels) ? -1 : 1));
  const flatten = (node) => [node.name, node.count, [...node.children.values()].map(flatten)];
  assert.deepEqual(flatten(logic.buildTree(ordered, levels, true)), flatten(logic.buildTree(fleet, levels)));
});

test("value ticks: round numbers 1, 2 or 5 × 10^k apart, inside the range", () => {
  assert.deepEqual(logic.valueTicks(0.3, 9.7), [2, 4, 6, 8]);
  assert.deepEqual(logic.valueTicks(2103, 3027), [2200, 2400, 2600, 2800, 3000]);
  assert.deepEqual(logic.valueTicks(-1, 1, 4), [-1, -0.5, 0, 0.5, 1]);
  assert.deepEqual(logic.valueTicks(0.001, 0.0049), [0.001, 0.002, 0.003, 0.004]);
  assert.deepEqual(logic.valueTicks(5, 5), [5]);
});

test("time ticks: round local times, a step that gives about the count asked for", () => {
  const now = Date.UTC(2026, 10, 30, 16, 43, 12);
  const hour = logic.timeTicks(now - 3_600_000, now, 6, () => 0);
  assert.equal(hour.step, 600_000);
  assert.deepEqual(hour.ticks.map((t) => new Date(t).toISOString().slice(11, 16)), ["15:50", "16:00", "16:10", "16:20", "16:30", "16:40"]);
  // India (+5:30): ticks on the local hour, which is half past in UTC.
  const day = logic.timeTicks(now - 86_400_000, now, 6, () => 330);
  assert.equal(day.step, 21_600_000);
  assert.ok(day.ticks.every((t) => ((t + 330 * 60_000) % day.step) === 0), "local round times");
  assert.deepEqual(logic.timeTicks(now, now), { step: 0, ticks: [] });
  assert.ok(logic.timeTicks(now - 60_000, now, 6, () => 0).step <= 15_000);
});

test("tick labels: time of day, seconds for short steps, the date for daily steps", () => {
  const t = new Date(2026, 10, 30, 16, 5, 7).getTime();
  assert.match(logic.timeLabel(t, 600_000, "en-GB"), /^16:05$/);
  assert.match(logic.timeLabel(t, 15_000, "en-GB"), /^16:05:07$/);
  assert.match(logic.timeLabel(t, 86_400_000, "en-GB"), /^30\/11$/);
});

test("zoom: a drag selects the time under it; a click selects nothing; steps give about 300 points", () => {
  const plot = { start: 0, end: 1_000_000, width: 1100, pad: { left: 50, right: 50 } };
  assert.deepEqual(logic.zoomWindow(300, 550, plot), { start: 250_000, end: 500_000 });
  assert.deepEqual(logic.zoomWindow(550, 300, plot), { start: 250_000, end: 500_000 }, "dragged leftwards");
  assert.deepEqual(logic.zoomWindow(0, 2000, plot), { start: 0, end: 1_000_000 }, "clamped to the plot");
  assert.equal(logic.zoomWindow(300, 303, plot), null);
  assert.equal(logic.stepFor(3_600_000), 15);
  assert.equal(logic.stepFor(60_000), 1);
  assert.equal(logic.stepFor(7 * 86_400_000), 3600);
});

test("series views: series, range and zoom round-trip through the URL fragment", () => {
  const series = 'temperature{device="boiler-2",site="a?b&c"}';
  const view = { series, range: "24h", zoom: { start: 1_796_000_000_000, end: 1_796_000_600_000 }, compare: ['temperature{device="boiler-3"}'] };
  const hash = logic.formatSeriesView(view);
  assert.ok(!hash.slice(8).split("?")[0].includes("?"), "the series is encoded");
  assert.deepEqual(logic.parseSeriesView(hash), view);
  assert.deepEqual(logic.parseSeriesView("#series/" + encodeURIComponent(series)), { series, range: "", zoom: null, compare: [] });
  assert.deepEqual(logic.parseSeriesView(logic.formatSeriesView({ series, range: "1h", zoom: null })), { series, range: "1h", zoom: null, compare: [] });
  // Compared series: no repeats, not the series itself, at most MAX_COMPARED.
  const many = ["a", "a", series, "b", "c", "d", "e", "f", "g"];
  assert.deepEqual(logic.parseSeriesView(logic.formatSeriesView({ series, range: "", zoom: null, compare: many })).compare,
                   ["a", "b", "c", "d", "e"]);
  assert.equal(logic.parseSeriesView("#overview"), null);
});

test("refused recently: a reject's topic names the series' place by its levels", () => {
  const levels = ["site", "device"];
  assert.ok(logic.refusedAt(fleet[1], levels, "sensors/north/boiler-2/temperature"));
  assert.ok(!logic.refusedAt(fleet[0], levels, "sensors/north/boiler-2/temperature"), "boiler-10 is not boiler-2");
  assert.ok(!logic.refusedAt(fleet[1], levels, "sensors/south/boiler-2/temperature"));
  assert.ok(!logic.refusedAt(fleet[4], levels, "sensors/north/boiler-2/temperature"), "a series without the labels is nowhere");
  assert.ok(logic.refusedAt({ labels: { device: "pump-1" } }, levels, "plant/pump-1"), "the labels it has");
  assert.ok(!logic.refusedAt(fleet[1], levels, undefined));
});

test("watch: only what changed is sent, removals first, in messages the gateway takes", () => {
  const set = (...names) => new Set(names);
  assert.deepEqual(logic.watchChanges(set("a", "b"), set("a", "b")), []);
  assert.deepEqual(logic.watchChanges(set(), set("a", "b")), [{ add: ["a", "b"], remove: [] }]);
  assert.deepEqual(logic.watchChanges(set("a", "b", "c"), set("b", "d")), [{ add: ["d"], remove: ["a", "c"] }]);
  const many = new Set(Array.from({ length: 700 }, (_, i) => `s${i}`));
  const messages = logic.watchChanges(set("x"), many);
  assert.deepEqual(messages.map((m) => m.add.length + m.remove.length), [300, 300, 101]);
  assert.deepEqual(messages[0].remove, ["x"]);
  assert.equal(new Set(messages.flatMap((m) => m.add)).size, 700);
  // Long names (many labels): each message stays well under the gateway's 64 KiB.
  const long = new Set(Array.from({ length: 300 }, (_, i) => `temperature{${"label_with_a_long_name=\"and a long value\",".repeat(8)}n="${i}"}`));
  const chunks = logic.watchChanges(set(), long);
  assert.ok(chunks.length > 1);
  for (const chunk of chunks) {
    const text = JSON.stringify({ op: "change", id: 1, add: chunk.add, remove: chunk.remove, history_minutes: 2 });
    assert.ok(text.length < 32_000, `${text.length} bytes`);
  }
  assert.equal(chunks.flatMap((m) => m.add).length, 300);
});
