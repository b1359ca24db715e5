import { createHash } from 'node:crypto';
import { Hono } from 'hono';

// The page holds no data and needs no token to load: everything it shows comes from /api with the
// operator's bearer token, which it keeps in sessionStorage only.
const style = `
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1a202c; background: #f7fafc; }
header { display: flex; gap: 12px; align-items: center; padding: 8px 16px; background: #1a202c; color: #fff; }
header h1 { font-size: 16px; margin: 0 12px 0 0; }
header input { padding: 4px 8px; width: 260px; }
#status { margin-left: auto; font-size: 12px; color: #cbd5e0; }
main { display: grid; grid-template-columns: minmax(420px, 1fr) minmax(320px, 420px); gap: 16px; padding: 16px; }
section { background: #fff; border: 1px solid #e2e8f0; border-radius: 8px; padding: 12px; min-width: 0; }
h2 { font-size: 14px; margin: 0 0 8px; text-transform: uppercase; letter-spacing: .04em; color: #4a5568; }
table { width: 100%; border-collapse: collapse; font-size: 13px; }
th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid #edf2f7; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 260px; }
tbody tr { cursor: pointer; }
tbody tr:hover { background: #ebf8ff; }
tbody tr.selected { background: #fefcbf; }
.decision { border-bottom: 1px solid #edf2f7; padding: 6px 0; }
.decision p { margin: 0 0 4px; }
.decision small { color: #718096; }
button { margin: 2px 4px 2px 0; padding: 3px 10px; border: 1px solid #a0aec0; border-radius: 4px; background: #fff; cursor: pointer; }
button:hover { background: #edf2f7; }
#detail { grid-column: 1 / -1; }
#detail-body { display: grid; grid-template-columns: minmax(0, 1fr) 360px; gap: 12px; }
#chart { overflow: auto; max-height: 75vh; border: 1px solid #edf2f7; }
#chart svg { display: block; }
#history { font: 12px/1.5 ui-monospace, Menlo, Consolas, monospace; margin: 0; padding-left: 0; list-style: none; }
#history li { border-bottom: 1px solid #edf2f7; padding: 2px 0; }
#history li.refused { color: #c53030; }
#decisions { list-style: none; margin: 0; padding: 0; }
.empty { color: #718096; font-style: italic; }
`;

const script = `
const KEY = 'conveyor.apiToken';
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem(KEY) || '';
let selected = null;
let timer = null;
let busy = false;
let lastSvg = '';

function status(text) { $('status').textContent = text; }

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

async function api(path, init) {
  const headers = { authorization: 'Bearer ' + token };
  if (init && init.body) headers['content-type'] = 'application/json';
  const res = await fetch('/api' + path, Object.assign({}, init, { headers }));
  if (res.status === 401) { forget(); throw new Error('the API token was refused'); }
  if (!res.ok) {
    const body = await res.json().catch(() => null);
    throw new Error((body && body.error && body.error.message) || 'HTTP ' + res.status);
  }
  return res;
}

function forget() {
  token = '';
  sessionStorage.removeItem(KEY);
  clearInterval(timer);
  $('login').hidden = false;
  $('logout').hidden = true;
}

function renderTasks(tasks) {
  const body = $('tasks').tBodies[0];
  body.replaceChildren();
  if (tasks.length === 0) {
    const cell = el('td', 'no tasks', 'empty');
    cell.colSpan = 5;
    const row = el('tr');
    row.append(cell);
    body.append(row);
  }
  for (const t of tasks) {
    const row = el('tr');
    if (t.id === selected) row.className = 'selected';
    for (const v of [t.id, t.title, t.repo, t.state, t.stage]) row.append(el('td', v));
    row.title = t.title;
    row.addEventListener('click', () => { selected = t.id; refresh(); });
    body.append(row);
  }
}

function renderDecisions(decisions) {
  const list = $('decisions');
  list.replaceChildren();
  if (decisions.length === 0) list.append(el('li', 'nothing is waiting for an answer', 'empty'));
  for (const d of decisions) {
    const item = el('li', undefined, 'decision');
    item.append(el('p', d.question), el('small', d.taskId + ' · ' + d.contextKey), el('br'));
    for (const option of d.options) {
      const b = el('button', option);
      b.addEventListener('click', () => resolve(d, option));
      item.append(b);
    }
    list.append(item);
  }
}

async function resolve(d, option) {
  if (!confirm(d.taskId + ': answer "' + option + '"?')) return;
  try {
    await api('/decisions/' + encodeURIComponent(d.id) + '/resolve', { method: 'POST', body: JSON.stringify({ option, by: 'console' }) });
    await refresh();
  } catch (e) { status(e.message); }
}

function line(h) {
  const at = new Date(h.at).toLocaleTimeString();
  const move = h.from === h.to ? h.to : h.from + ' → ' + h.to;
  return at + '  ' + h.source + '  ' + h.event.type + '  ' + (h.accepted ? move : 'refused: ' + (h.reason || ''));
}

async function showTask(id) {
  const path = '/tasks/' + encodeURIComponent(id);
  const [svg, history] = await Promise.all([
    api(path + '/chart.svg').then((r) => r.text()),
    api(path + '/history').then((r) => r.json()),
  ]);
  $('detail').hidden = false;
  $('detail-title').textContent = 'Task ' + id;
  // The SVG is conveyor's own drawing, every text in it escaped on the server.
  if (svg !== lastSvg) $('chart').innerHTML = lastSvg = svg;
  const list = $('history');
  list.replaceChildren();
  for (const h of history.history.slice(-15).reverse()) list.append(el('li', line(h), h.accepted ? '' : 'refused'));
}

async function refresh() {
  if (!token || busy) return;
  busy = true;
  try {
    const [tasks, decisions] = await Promise.all([
      api('/tasks').then((r) => r.json()),
      api('/decisions?status=pending').then((r) => r.json()),
    ]);
    renderTasks(tasks.tasks);
    renderDecisions(decisions.decisions);
    if (selected) await showTask(selected);
    status('updated ' + new Date().toLocaleTimeString());
  } catch (e) { status(e.message); } finally { busy = false; }
}

function start() {
  $('login').hidden = true;
  $('logout').hidden = false;
  clearInterval(timer);
  timer = setInterval(refresh, 2000);
  refresh();
}

$('login').addEventListener('submit', (ev) => {
  ev.preventDefault();
  token = $('token').value.trim();
  $('token').value = '';
  if (!token) return;
  sessionStorage.setItem(KEY, token);
  start();
});
$('logout').addEventListener('click', () => { forget(); status('token forgotten'); });
if (token) start(); else status('enter the API token to connect');
`;

const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>conveyor console</title>
<style>${style}</style>
</head>
<body>
<header>
<h1>conveyor</h1>
<form id="login"><input id="token" type="password" placeholder="API token" autocomplete="off"> <button>Connect</button></form>
<button id="logout" hidden>Forget token</button>
<span id="status"></span>
</header>
<main>
<section><h2>Tasks</h2><table id="tasks"><thead><tr><th>id</th><th>title</th><th>repo</th><th>state</th><th>stage</th></tr></thead><tbody></tbody></table></section>
<section><h2>Pending decisions</h2><ul id="decisions"></ul></section>
<section id="detail" hidden><h2 id="detail-title"></h2><div id="detail-body"><div id="chart"></div><div><h2>Latest history</h2><ol id="history"></ol></div></div></section>
</main>
<script>${script}</script>
</body>
</html>
`;

const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

// Only this page's own script and style may run, and it may talk to its own origin only.
const policy = [
  "default-src 'none'",
  `script-src ${hash(script)}`,
  `style-src ${hash(style)}`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** GET /console: a small self-contained operator page (tasks, pending decisions, a task's chart and history). */
export function consoleApp() {
  const app = new Hono();
  app.get('/', (c) => c.html(html, 200, { 'content-security-policy': policy, 'cache-control': 'no-store' }));
  return app;
}
