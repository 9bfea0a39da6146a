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

  return { backoffDelay, createSequence, formatValue, valueRange, scales, columns, matchersFor, BACKOFF_BASE_MS, BACKOFF_CAP_MS };
})();

if (typeof module !== "undefined") module.exports = VigilLogic;
