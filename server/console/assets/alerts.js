// Alerts: what went wrong and what to do about it; acknowledged after a confirmation.

import { enc, post } from './api.js';
import { confirmAction } from './confirm.js';
import { $, button, clock, el, toast } from './dom.js';
import { liveList } from './live-list.js';

const alerts = liveList({
  listId: 'alerts',
  keyOf: (a) => a.id,
  keep: (a) => a.status === 'open' || $('show-acked').checked,
  item,
  empty: 'no open alerts',
  order: (a, b) => b.at - a.at,
});

export function initAlerts() {
  $('show-acked').addEventListener('change', () => void loadAlerts());
}

// The newest page only: old acknowledged alerts are for GET /api/alerts.
export const loadAlerts = () => alerts.load('/alerts' + ($('show-acked').checked ? '' : '?status=open'), 'alerts', 1);
export const upsertAlert = (a) => alerts.upsert(a);

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
