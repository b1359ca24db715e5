// The task list: filtered by stage and repository on the server, kept current by the stream.

import { all, enc } from './api.js';
import { $, el } from './dom.js';

const rows = new Map();
const stages = new Set();
const repos = new Set();
let selected = null;
let onSelect = () => {};

const filter = () => ({ stage: $('filter-stage').value, repo: $('filter-repo').value });
const matches = (t) => {
  const f = filter();
  return (!f.stage || t.stage === f.stage) && (!f.repo || t.repo === f.repo);
};

/** Wires the filters; `select(id)` runs when a row is picked. */
export function initTasks(select) {
  onSelect = select;
  for (const id of ['filter-stage', 'filter-repo']) $(id).addEventListener('change', () => void loadTasks());
}

/** Loads the list from /api/tasks with the current filters. */
export async function loadTasks() {
  const f = filter();
  const query = [f.stage && 'stage=' + enc(f.stage), f.repo && 'repo=' + enc(f.repo)].filter(Boolean).join('&');
  const tasks = await all('/tasks' + (query ? '?' + query : ''), 'tasks');
  rows.clear();
  $('tasks').tBodies[0].replaceChildren();
  for (const t of tasks) upsertTask(t, false);
  showEmpty();
}

/** Adds or updates one task's row from a summary (a stream message carries one); `moved` flashes it. */
export function upsertTask(t, moved = true) {
  learn(t);
  let row = rows.get(t.id);
  if (!matches(t)) {
    if (row) row.remove();
    rows.delete(t.id);
    showEmpty();
    return;
  }
  if (!row) {
    row = el('tr');
    row.dataset.task = t.id;
    row.addEventListener('click', () => onSelect(t.id));
    rows.set(t.id, row);
    $('tasks').tBodies[0].append(row);
  }
  row.replaceChildren(el('td', t.id), el('td', t.title), el('td', t.repo, 'wide'), el('td', t.state));
  row.title = t.title + ' (' + t.state + ')';
  row.classList.toggle('selected', t.id === selected);
  if (moved) {
    row.classList.remove('moved');
    void row.offsetWidth;
    row.classList.add('moved');
  }
  showEmpty();
}

export function markSelected(id) {
  selected = id;
  for (const [taskId, row] of rows) row.classList.toggle('selected', taskId === id);
}

function showEmpty() {
  const body = $('tasks').tBodies[0];
  const empty = body.querySelector('.empty-row');
  if (rows.size > 0) return empty && empty.remove();
  if (empty) return;
  const row = el('tr', undefined, 'empty-row');
  const cell = el('td', 'no tasks', 'empty');
  cell.colSpan = 4;
  row.append(cell);
  body.append(row);
}

/** Stages and repositories seen so far become filter options. */
function learn(t) {
  addOption('filter-stage', stages, t.stage);
  addOption('filter-repo', repos, t.repo);
}

function addOption(id, seen, value) {
  if (!value || seen.has(value)) return;
  seen.add(value);
  const option = el('option', value);
  option.value = value;
  $(id).append(option);
}
