// One task: its chart (live, or at any step of its history) beside its history, its jobs (with logs), what
// its agent is doing, its effects, and the operator's actions.

import { all, api, enc, post } from './api.js';
import { confirmAction } from './confirm.js';
import { $, button, clock, coalesce, el, toast } from './dom.js';
import { effectItem } from './effects.js';
import { chartPath, extendSlider, initSlider, resetSlider } from './history-slider.js';
import { liveList } from './live-list.js';

const ACTIONS = {
  hold: { reason: 'optional', text: 'Hold task {id}: it stops moving until resumed.' },
  resume: { reason: 'none', text: 'Resume task {id} where it was held.' },
  retry: { reason: 'none', text: 'Retry task {id} from its escalation or failure.' },
  cancel: { reason: 'required', text: 'Cancel task {id}. It cannot be resumed.', danger: true },
};
const HISTORY_SHOWN = 60;

let taskId = null;
const jobs = liveList({ listId: 'jobs', keyOf: (j) => j.id, item: jobItem, empty: 'no jobs yet', order: (a, b) => b.requestedAt - a.requestedAt });
const effects = liveList({ listId: 'task-effects', keyOf: (e) => e.key, item: effectItem, empty: 'no effects' });
let logJob = null;
/** The job whose activity is shown: the task's newest job of a known agent CLI. */
let activityJob = null;
const ACTIVITY_SHOWN = 200;

export function initDetail() {
  for (const b of $('actions').querySelectorAll('button')) b.addEventListener('click', () => void act(b.dataset.action));
  initSlider(redrawChart);
}

export const shownTask = () => taskId;

/** Shows a task: everything about it, then keeps it current from the stream. */
export async function showTask(id) {
  if (id !== taskId) logJob = null;
  taskId = id;
  const path = '/tasks/' + enc(id);
  const [view, history] = await Promise.all([api(path), all(path + '/history', 'history')]);
  if (taskId !== id) return;
  $('detail').hidden = false;
  $('detail-title').textContent = view.task.title + ' · ' + id;
  setState(view.task.state, view.task.repo);
  showSpend(view.jobs);
  jobs.reset(view.jobs);
  effects.reset(view.effects);
  await showActivity(view.jobs.filter((j) => j.kind).sort((a, b) => b.requestedAt - a.requestedAt)[0]);
  $('history').replaceChildren(...history.slice(-HISTORY_SHOWN).reverse().map(historyLine));
  resetSlider(history);
  await drawChart();
  if (logJob) await showLog(logJob);
  else $('log-panel').hidden = true;
}

export function hideTask() {
  taskId = null;
  $('detail').hidden = true;
}

/** A stream message about the shown task. */
export function onTaskMessage(kind, m) {
  if (kind === 'transition' && m.taskId === taskId) {
    $('history').prepend(historyLine(m));
    while ($('history').children.length > HISTORY_SHOWN) $('history').lastChild.remove();
    if (m.task) setState(m.task.state, m.task.repo);
    extendSlider(m);
    redrawChart();
    if (logJob) reloadLog();
  } else if (kind === 'job' && m.taskId === taskId) {
    jobs.upsert(m);
    showSpend(jobs.values());
    if (logJob === m.id) reloadLog();
  } else if (kind === 'effect' && m.taskId === taskId) {
    effects.upsert(m);
  } else if (kind === 'activity' && m.taskId === taskId) {
    // A newer job's first records take the panel over.
    if (m.jobId !== activityJob) startActivity(m.jobId);
    appendActivity(m.records);
  }
}

async function showActivity(job) {
  if (!job) {
    activityJob = null;
    $('activity-panel').hidden = true;
    return;
  }
  const id = taskId;
  const records = await all('/jobs/' + enc(job.id) + '/activity', 'activity');
  if (id !== taskId) return;
  startActivity(job.id);
  appendActivity(records);
}

function startActivity(jobId) {
  activityJob = jobId;
  $('activity-panel').hidden = false;
  $('activity-title').textContent = 'Activity of job ' + jobId;
  $('activity').replaceChildren();
}

function appendActivity(records) {
  const list = $('activity');
  const last = Number(list.lastElementChild?.dataset.seq ?? 0);
  for (const r of records) if (r.seq > last) list.append(activityLine(r));
  while (list.children.length > ACTIVITY_SHOWN) list.firstChild.remove();
  list.scrollTop = list.scrollHeight;
}

function activityLine(r) {
  const what = {
    text: () => r.text,
    tool: () => r.tool + (r.target ? ' ' + r.target : ''),
    file: () => (r.tool ? r.tool + ' ' : '') + r.path,
    error: () => r.text,
    result: () => (r.isError ? 'failed: ' : '') + r.text,
    input: () => r.text,
    question: () => r.text + (r.options ? ' [' + r.options.join(' / ') + ']' : ''),
    session: () => 'session ' + r.session,
    usage: () => usageText(r.usage),
    truncated: () => r.text,
  }[r.kind];
  const li = el('li', clock(r.at) + '  ' + r.kind + '  ' + (what ? what() : ''), r.kind === 'error' || r.isError ? 'error' : '');
  li.dataset.seq = String(r.seq);
  return li;
}

/** What the task's agents spent in all, from its jobs' usage; hidden while none reported any. */
function showSpend(list) {
  const spent = list.filter((j) => j.usage);
  $('detail-spend').hidden = spent.length === 0;
  if (spent.length === 0) return;
  const sum = (k) => spent.reduce((n, j) => n + (j.usage[k] ?? 0), 0);
  const costs = spent.filter((j) => j.usage.costUsd !== null && j.usage.costUsd !== undefined);
  $('detail-spend').textContent = 'spent ' + usageText({
    inputTokens: sum('inputTokens'), outputTokens: sum('outputTokens'), cacheReadTokens: sum('cacheReadTokens'), cacheWriteTokens: sum('cacheWriteTokens'),
    costUsd: costs.length ? costs.reduce((n, j) => n + j.usage.costUsd, 0) : null,
  });
}

/** Tokens in and out (cache reads, cache writes) and the cost when the CLI reports one. */
export function usageText(u) {
  if (!u) return '';
  const cost = u.costUsd === null || u.costUsd === undefined ? '' : ' · $' + u.costUsd.toFixed(4);
  return u.inputTokens + ' in / ' + u.outputTokens + ' out tokens (cache ' + u.cacheReadTokens + ' read, ' + u.cacheWriteTokens + ' written)' + cost;
}

function setState(state, repo) {
  $('detail-state').textContent = state + ' · ' + repo;
}

function historyLine(h) {
  // A stream message names the event's type; a history entry from the API carries the event itself.
  const type = typeof h.event === 'string' ? h.event : h.event.type;
  const move = h.from === h.to ? h.to : (h.from || '·') + ' → ' + h.to;
  const text = clock(h.at) + '  ' + h.source + '  ' + type + '  ' + (h.accepted ? move : 'refused: ' + (h.reason || ''));
  return el('li', text, h.accepted ? '' : 'refused');
}

async function drawChart() {
  const id = taskId;
  const path = chartPath(id);
  const svg = await api(path);
  // conveyor's own drawing; every text in it is escaped on the server. A slower answer for a step left since is dropped.
  if (id === taskId && path === chartPath(id)) $('chart').innerHTML = svg;
}
const redrawChart = coalesce(() => void drawChart().catch(() => {}), 100);

function jobItem(j) {
  const li = el('li');
  li.dataset.job = j.id;
  const exit = j.exitCode === undefined || j.exitCode === null ? '' : ' · exit ' + j.exitCode;
  li.append(el('p', j.stage + ' · ' + j.agent + ' · attempt ' + j.attempt + ' · ' + j.status + exit));
  if (j.usage) li.append(el('small', usageText(j.usage), 'usage'), el('br'));
  li.append(el('small', j.id + (j.reason ? ' · ' + j.reason : '')), el('br'), button('Log', () => void showLog(j.id)));
  return li;
}

async function showLog(jobId) {
  logJob = jobId;
  $('log-panel').hidden = false;
  $('log-title').textContent = 'Log of job ' + jobId;
  try {
    $('log').textContent = await api('/jobs/' + enc(jobId) + '/log');
  } catch (e) {
    $('log').textContent = '(' + e.message + ')';
  }
}
const reloadLog = coalesce(() => void (logJob && showLog(logJob)), 300);

async function act(action) {
  const spec = ACTIONS[action];
  const id = taskId;
  const ok = await confirmAction({
    title: action[0].toUpperCase() + action.slice(1) + ' task',
    text: spec.text.replace('{id}', id),
    confirmLabel: action[0].toUpperCase() + action.slice(1),
    reason: spec.reason,
    danger: spec.danger,
  });
  if (!ok) return;
  try {
    const answer = await post('/tasks/' + enc(id) + '/events', { type: action, reason: ok.reason, by: 'console' });
    toast(action + ': ' + answer.outcome.from + ' → ' + answer.outcome.to);
  } catch (e) {
    toast(action + ' refused: ' + e.message, true);
  }
}
