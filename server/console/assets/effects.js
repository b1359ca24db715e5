// Effects in flight (merges, deploys, tracker mirror); one stuck in flight can be released.

import { enc, post } from './api.js';
import { confirmAction } from './confirm.js';
import { button, clock, el, toast } from './dom.js';
import { liveList } from './live-list.js';

const inFlight = liveList({ listId: 'effects', keyOf: (e) => e.key, keep: (e) => e.status === 'started', item: effectItem, empty: 'nothing in flight' });

export const loadEffects = () => inFlight.load('/effects?status=started', 'effects');
export const upsertEffect = (e) => inFlight.upsert(e);

/** One effect as a list item; a started one has a Release button. Also used by the task detail. */
export function effectItem(e) {
  const li = el('li');
  li.dataset.effect = e.key;
  li.append(el('p', e.effect + ' · ' + e.status), el('small', 'task ' + e.taskId + ' · since ' + clock(e.startedAt) + ' · ' + e.key));
  if (e.status === 'started') li.append(el('br'), button('Release', () => void release(e), 'danger'));
  return li;
}

async function release(e) {
  const ok = await confirmAction({
    title: 'Release ' + e.effect,
    text: 'Journal ' + e.key + ' as failed and tell task ' + e.taskId + '. Only do this once you know the call will not complete.',
    confirmLabel: 'Release',
    reason: 'required',
    danger: true,
  });
  if (!ok) return;
  try {
    await post('/effects/' + enc(e.key) + '/release', { reason: ok.reason, by: 'console' });
    toast('released ' + e.key);
  } catch (err) {
    toast(err.message, true);
  }
}
