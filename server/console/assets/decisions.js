// Pending decisions: each option is a button, and each answer is confirmed first.

import { all, enc, post } from './api.js';
import { confirmAction } from './confirm.js';
import { $, button, el, fillList, toast } from './dom.js';

const pending = new Map();

export async function loadDecisions() {
  pending.clear();
  for (const d of await all('/decisions?status=pending', 'decisions')) pending.set(d.id, d);
  render();
}

/** A decision from the stream: opened ones join the list, answered or withdrawn ones leave it. */
export function upsertDecision(d) {
  if (d.status === 'pending') pending.set(d.id, d);
  else pending.delete(d.id);
  render();
}

function render() {
  fillList($('decisions'), [...pending.values()], item, 'nothing is waiting for an answer');
}

function item(d) {
  const li = el('li');
  li.dataset.decision = d.id;
  li.append(el('p', d.question), el('small', d.taskId + ' · ' + d.contextKey), el('br'));
  for (const option of d.options) li.append(button(option, () => void answer(d, option)));
  return li;
}

async function answer(d, option) {
  const ok = await confirmAction({
    title: 'Answer "' + option + '"',
    text: d.question + ' (task ' + d.taskId + ')',
    confirmLabel: option,
  });
  if (!ok) return;
  try {
    await post('/decisions/' + enc(d.id) + '/resolve', { option, by: 'console' });
    toast('answered "' + option + '" for task ' + d.taskId);
  } catch (e) {
    toast(e.message, true);
  }
}
