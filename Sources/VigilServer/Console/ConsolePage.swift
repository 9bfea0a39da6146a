/// The console's one HTML page. Everything it shows is built by console.js from the live stream
/// and the JSON APIs; no inline script or style (the Content-Security-Policy forbids both).
enum ConsolePage {
    static let html = #"""
    <!doctype html>
    <html lang="en">
    <head>
      <meta charset="utf-8">
      <meta name="viewport" content="width=device-width, initial-scale=1">
      <meta name="color-scheme" content="light dark">
      <title>Vigil</title>
      <link rel="stylesheet" href="/console/style.css">
      <script src="/console/console.js" defer></script>
    </head>
    <body>
      <header>
        <h1>Vigil</h1>
        <nav id="nav" hidden>
          <a href="#overview">Overview</a>
          <a href="#alerts">Alerts <span id="alerts-badge" class="badge" hidden></span></a>
          <a href="#rejects">Rejects</a>
        </nav>
        <div id="link" class="link offline" role="status" aria-live="polite">
          <span class="dot" aria-hidden="true"></span><span id="link-state">offline</span>
          <span id="link-rtt"></span><span id="link-rate"></span>
        </div>
        <button id="logout" type="button" hidden>Log out</button>
      </header>
      <main>
        <section id="login" hidden>
          <h2>Log in</h2>
          <form id="login-form">
            <label>User <input name="username" id="username" autocomplete="username" required></label>
            <label>Password <input name="password" id="password" type="password" autocomplete="current-password" required></label>
            <button type="submit" id="login-submit">Log in</button>
            <p id="login-error" class="error" role="alert"></p>
          </form>
        </section>
        <section id="overview" hidden>
          <h2>Sources</h2>
          <ul id="sources" class="sources"></ul>
          <h2>Devices</h2>
          <div id="grid" class="grid"></div>
        </section>
        <section id="alerts" hidden>
          <h2>Alerts</h2>
          <p id="alerts-info" class="muted"></p>
          <div class="table-wrap">
            <table id="alerts-table">
              <thead><tr><th scope="col">State</th><th scope="col">Severity</th><th scope="col">Alert</th><th scope="col">Value</th><th scope="col">Since</th><th scope="col">Summary</th><th scope="col">Actions</th></tr></thead>
              <tbody></tbody>
            </table>
          </div>
          <p class="operator-only" hidden>
            <label class="inline">Silence for
              <select id="silence-duration"><option value="1h">1 hour</option><option value="4h">4 hours</option><option value="24h">1 day</option></select>
            </label>
          </p>
          <h2>Silences</h2>
          <div class="table-wrap">
            <table id="silences-table">
              <thead><tr><th scope="col">Matchers</th><th scope="col">Until</th><th scope="col">By</th><th scope="col">Comment</th><th scope="col">Actions</th></tr></thead>
              <tbody></tbody>
            </table>
          </div>
        </section>
        <section id="rejects" hidden>
          <h2>Ingest rejects (the last 100)</h2>
          <p><button type="button" id="rejects-refresh">Refresh</button> <span id="rejects-info" class="muted"></span></p>
          <div class="table-wrap">
            <table id="rejects-table">
              <thead><tr><th scope="col">Time</th><th scope="col">Source</th><th scope="col">Reason</th><th scope="col">Topic</th><th scope="col">Payload</th></tr></thead>
              <tbody></tbody>
            </table>
          </div>
        </section>
        <section id="series" hidden>
          <p><a href="#overview">← Overview</a></p>
          <h2 id="series-title"></h2>
          <div class="ranges" role="group" aria-label="Time range">
            <button type="button" data-range="15m">15 m</button>
            <button type="button" data-range="1h">1 h</button>
            <button type="button" data-range="24h">24 h</button>
            <button type="button" data-range="7d">7 d</button>
          </div>
          <canvas id="chart" class="chart" role="img" aria-label="chart of the series"></canvas>
          <p id="series-info" class="muted"></p>
        </section>
      </main>
    </body>
    </html>
    """#
}
