// The console's wiring: log in, load every panel, then follow the event stream. No polling.

import { hasToken, setToken, whenRefused } from './api.js';
import { $, toast } from './dom.js';
import { initAlerts, loadAlerts, upsertAlert } from './alerts.js';
import { loadDecisions, upsertDecision } from './decisions.js';
import { loadEffects, upsertEffect } from './effects.js';
import { follow } from './live.js';
import { hideTask, initDetail, onTaskMessage, showTask, shownTask } from './task-detail.js';
import { initTasks, loadTasks, markSelected, upsertTask } from './tasks.js';

let unfollow = null;

const LIVE_TEXT = { online: 'live', reconnecting: 'reconnecting…', offline: 'offline' };

function liveState(state) {
  $('live').textContent = LIVE_TEXT[state];
  $('live').className = 'live ' + state;
}

async function select(id) {
  markSelected(id);
  try {
    await showTask(id);
  } catch (e) {
    toast(e.message, true);
  }
}

/** Everything, from the API: at login and after every (re)connection of the stream. */
async function reload() {
  try {
    await Promise.all([loadTasks(), loadDecisions(), loadAlerts(), loadEffects()]);
    if (shownTask()) await showTask(shownTask());
  } catch (e) {
    toast(e.message, true);
  }
}

function onMessage(kind, m) {
  if (kind === 'transition' && m.task) upsertTask(m.task);
  else if (kind === 'decision') upsertDecision(m);
  else if (kind === 'alert') upsertAlert(m);
  else if (kind === 'effect') upsertEffect(m);
  onTaskMessage(kind, m);
}

function connect() {
  $('login').hidden = true;
  $('logout').hidden = false;
  if (unfollow) unfollow();
  unfollow = follow({ onReady: () => void reload(), onMessage, onState: liveState });
}

function disconnect() {
  // Stop following first: it revokes the stream ticket with the token it still has.
  const stop = unfollow;
  unfollow = null;
  if (stop) stop();
  setToken('');
  hideTask();
  $('login').hidden = false;
  $('logout').hidden = true;
}

whenRefused(() => {
  disconnect();
  toast('the API token was refused', true);
});
initTasks((id) => void select(id));
initAlerts();
initDetail();

$('login').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const token = $('token').value.trim();
  $('token').value = '';
  if (!token) return;
  setToken(token);
  connect();
});
$('logout').addEventListener('click', () => {
  disconnect();
  toast('token forgotten');
});
if (hasToken()) connect();
else toast('enter the API token to connect');
