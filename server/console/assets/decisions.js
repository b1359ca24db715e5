// Pending decisions: each option is a button, and each answer is confirmed first.

import { enc, post } from './api.js';
import { confirmAction } from './confirm.js';
import { button, el, toast } from './dom.js';
import { liveList } from './live-list.js';

// Opened decisions join the list; answered or withdrawn ones leave it.
const pending = liveList({ listId: 'decisions', keyOf: (d) => d.id, keep: (d) => d.status === 'pending', item, empty: 'nothing is waiting for an answer' });

export const loadDecisions = () => pending.load('/decisions?status=pending', 'decisions');
export const upsertDecision = (d) => pending.upsert(d);

function item(d) {
  const li = el('li');
  li.dataset.decision = d.id;
  li.append(el('p', d.question), el('small', d.taskId + ' · ' + d.contextKey), el('br'));
  for (const option of d.options) li.append(button(option, () => void answer(d, option)));
  return li;
}

// An agent's question answered with Reply takes the reply's words, typed in the dialog.
const REPLY = 'Reply';

async function answer(d, option) {
  const reply = option === REPLY && d.contextKey === 'agent_question';
  const ok = await confirmAction({
    title: 'Answer "' + option + '"',
    text: d.question + ' (task ' + d.taskId + ')',
    confirmLabel: option,
    reason: reply ? 'required' : 'none',
    reasonLabel: 'reply',
  });
  if (!ok) return;
  try {
    await post('/decisions/' + enc(d.id) + '/resolve', { option, by: 'console', ...(reply ? { answer: ok.reason } : {}) });
    toast('answered "' + option + '" for task ' + d.taskId);
  } catch (e) {
    toast(e.message, true);
  }
}
