/// The console's style sheet: system fonts, light and dark from the system setting, a grid that
/// reflows from phone (375 px) to desktop.
enum ConsoleStyle {
    static let css = #"""
    :root { --bg: #f7f7f5; --fg: #1d1f21; --card: #fff; --muted: #666; --line: #ddd;
            --ok: #2e7d32; --warn: #b26a00; --bad: #c62828; --accent: #1565c0; }
    @media (prefers-color-scheme: dark) {
      :root { --bg: #121416; --fg: #e6e6e6; --card: #1d2024; --muted: #9aa0a6; --line: #33373c;
              --ok: #66bb6a; --warn: #ffb74d; --bad: #ef5350; --accent: #64b5f6; }
    }
    * { box-sizing: border-box; }
    body { margin: 0; font: 15px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--fg); }
    header { display: flex; flex-wrap: wrap; align-items: center; gap: .75rem 1.5rem; padding: .6rem 1rem;
             border-bottom: 1px solid var(--line); background: var(--card); }
    header h1 { font-size: 1.2rem; margin: 0; }
    nav a { color: var(--accent); margin-right: 1rem; }
    main { padding: 1rem; max-width: 1400px; margin: 0 auto; }
    h2 { font-size: 1rem; color: var(--muted); text-transform: uppercase; letter-spacing: .05em; }
    .link { display: flex; gap: .5rem; align-items: center; margin-left: auto; font-size: .9rem; }
    .link .dot { width: .7rem; height: .7rem; border-radius: 50%; background: var(--bad); }
    .link.live .dot { background: var(--ok); }
    .link.reconnecting .dot { background: var(--warn); }
    #link-rtt, #link-rate { color: var(--muted); }
    form { display: grid; gap: .75rem; max-width: 20rem; }
    label { display: grid; gap: .25rem; }
    input, button { font: inherit; padding: .45rem .6rem; border: 1px solid var(--line); border-radius: 4px;
                    background: var(--card); color: var(--fg); }
    button { cursor: pointer; }
    button:focus-visible, input:focus-visible, a:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
    .error { color: var(--bad); min-height: 1.4em; }
    .sources { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .5rem; }
    .sources li { background: var(--card); border: 1px solid var(--line); border-radius: 4px; padding: .3rem .6rem; }
    .sources li .ledger { opacity: .7; font-size: .85em; }
    .sources li.connected::before { content: "● "; color: var(--ok); }
    .sources li.connecting::before, .sources li.disconnected::before, .sources li.stopped::before { content: "● "; color: var(--bad); }
    .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(11rem, 1fr)); gap: .6rem; }
    .card { background: var(--card); border: 1px solid var(--line); border-left: 4px solid var(--ok);
            border-radius: 4px; padding: .5rem .7rem; min-width: 0; }
    .card.stale { border-left-color: var(--warn); }
    .card.dead { border-left-color: var(--bad); }
    .card .name { font-size: .8rem; color: var(--muted); overflow-wrap: anywhere; }
    .card .value { font-size: 1.5rem; font-variant-numeric: tabular-nums; }
    .card .unit { font-size: .9rem; color: var(--muted); margin-left: .2rem; }
    .card .trend { margin-left: .3rem; }
    .card { cursor: pointer; }
    .card:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
    .ranges { display: flex; gap: .4rem; margin-bottom: .6rem; }
    .ranges button[aria-pressed="true"] { background: var(--accent); color: var(--card); border-color: var(--accent); }
    .chart { width: 100%; height: 320px; background: var(--card); border: 1px solid var(--line); border-radius: 4px; }
    .muted { color: var(--muted); }
    .table-wrap { overflow-x: auto; }
    table { border-collapse: collapse; width: 100%; background: var(--card); font-size: .9rem; }
    th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
    td.payload { font-family: ui-monospace, monospace; overflow-wrap: anywhere; }
    .badge { background: var(--bad); color: #fff; border-radius: 1rem; padding: 0 .45rem; font-size: .8rem; }
    .state { font-weight: 600; text-transform: uppercase; font-size: .8rem; }
    .state.firing { color: var(--bad); }
    .state.pending { color: var(--warn); }
    .state.resolved { color: var(--ok); }
    tr.silenced td { opacity: .6; }
    td .note { display: block; color: var(--muted); font-size: .8rem; }
    td button { padding: .2rem .5rem; margin: 0 .3rem .3rem 0; }
    label.inline { display: inline-flex; gap: .4rem; align-items: center; }
    select { font: inherit; padding: .3rem; background: var(--card); color: var(--fg); border: 1px solid var(--line); border-radius: 4px; }
    @media (max-width: 480px) { .grid { grid-template-columns: 1fr 1fr; } header { padding: .5rem; } main { padding: .5rem; } }
    """#
}
