// Alerts: what went wrong and what to do about it; acknowledged after a confirmation.

import { all, enc, post } from './api.js';
import { confirmAction } from './confirm.js';
import { $, button, clock, el, fillList, toast } from './dom.js';

const alerts = new Map();

export function initAlerts() {
  $('show-acked').addEventListener('change', () => void loadAlerts());
}

export async function loadAlerts() {
  alerts.clear();
  const status = $('show-acked').checked ? '' : '?status=open';
  for (const a of await all('/alerts' + status, 'alerts', 1)) alerts.set(a.id, a);
  render();
}

export function upsertAlert(a) {
  if (a.status === 'open' || $('show-acked').checked) alerts.set(a.id, a);
  else alerts.delete(a.id);
  render();
}

function render() {
  const newest = [...alerts.values()].sort((a, b) => b.at - a.at);
  fillList($('alerts'), newest, item, 'no open alerts');
}

function item(a) {
  const li = el('li');
  li.dataset.alert = a.id;
  li.append(el('p', a.message), el('small', clock(a.at) + ' · ' + a.kind + (a.taskId ? ' · task ' + a.taskId : '')));
  li.append(el('p', 'suggested: ' + a.suggestedAction, 'meta'));
  if (a.status === 'open') li.append(button('Acknowledge', () => void acknowledge(a)));
  else li.append(el('small', 'acknowledged by ' + a.acknowledged.by));
  return li;
}

async function acknowledge(a) {
  const ok = await confirmAction({ title: 'Acknowledge alert', text: a.message, confirmLabel: 'Acknowledge', reason: 'optional' });
  if (!ok) return;
  try {
    await post('/alerts/' + enc(a.id) + '/ack', { by: 'console', note: ok.reason });
  } catch (e) {
    toast(e.message, true);
  }
}
