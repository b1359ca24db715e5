/**
 * The console's markup: panels the script modules fill in. No inline script or style, so the content
 * security policy can allow the console's own files only.
 */
export const consoleMarkup = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>conveyor console</title>
<link rel="icon" href="/console/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/console/assets/console.css">
<script type="module" src="/console/assets/main.js"></script>
</head>
<body>
<header>
  <h1>conveyor</h1>
  <form id="login"><input id="token" type="password" placeholder="API token" autocomplete="off" aria-label="API token"><button>Connect</button></form>
  <button id="logout" hidden>Forget token</button>
  <span id="live" class="live offline">offline</span>
</header>
<main>
  <section id="tasks-panel">
    <div class="panel-head">
      <h2>Tasks</h2>
      <label>stage <select id="filter-stage"><option value="">all</option></select></label>
      <label>repository <select id="filter-repo"><option value="">all</option></select></label>
    </div>
    <table id="tasks"><thead><tr><th>id</th><th>title</th><th class="wide">repo</th><th>state</th></tr></thead><tbody></tbody></table>
  </section>
  <div id="side">
    <section><h2>Pending decisions</h2><ul id="decisions" class="items"></ul></section>
    <section>
      <div class="panel-head"><h2>Alerts</h2><label><input id="show-acked" type="checkbox"> acknowledged too</label></div>
      <ul id="alerts" class="items"></ul>
    </section>
    <section><h2>Effects in flight</h2><ul id="effects" class="items"></ul></section>
  </div>
  <section id="detail" hidden>
    <div class="panel-head">
      <h2 id="detail-title"></h2>
      <div id="actions">
        <button data-action="hold">Hold</button><button data-action="resume">Resume</button><button data-action="retry">Retry</button><button data-action="cancel" class="danger">Cancel</button>
      </div>
    </div>
    <p id="detail-state"></p>
    <p id="detail-spend" hidden></p>
    <div class="pair">
      <div><h3>Chart</h3><div id="timeline"><input id="step" type="range" min="1" max="1" value="1" aria-label="history step"><span id="step-label"></span></div><div id="chart"></div></div>
      <div><h3>History</h3><ol id="history"></ol></div>
    </div>
    <div class="pair">
      <div><h3>Jobs</h3><ul id="jobs" class="items"></ul></div>
      <div><h3>Effects</h3><ul id="task-effects" class="items"></ul></div>
    </div>
    <div id="activity-panel" hidden><h3 id="activity-title"></h3><ol id="activity"></ol></div>
    <div id="log-panel" hidden><h3 id="log-title"></h3><pre id="log"></pre></div>
  </section>
</main>
<dialog id="confirm">
  <h2 id="confirm-title"></h2>
  <p id="confirm-text"></p>
  <label id="confirm-reason-label">reason <input id="confirm-reason" autocomplete="off"></label>
  <div class="dialog-buttons"><button id="confirm-cancel" type="button">Back</button><button id="confirm-ok" type="button">Confirm</button></div>
</dialog>
<p id="toast" role="status" hidden></p>
</body>
</html>
`;
