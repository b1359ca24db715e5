// The one confirmation dialog: every action that changes something goes through it.

import { $ } from './dom.js';

/**
 * Asks the operator to confirm; resolves `{ reason }` on Confirm, null on Back or Escape.
 * `reason`: 'none', 'optional' or 'required' (Confirm stays disabled until one is typed); `reasonLabel` names the field.
 */
export function confirmAction({ title, text, confirmLabel = 'Confirm', reason = 'none', reasonLabel = 'reason', danger = false }) {
  const dialog = $('confirm');
  const input = $('confirm-reason');
  const ok = $('confirm-ok');
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-reason-label').hidden = reason === 'none';
  $('confirm-reason-label').firstChild.textContent = reasonLabel + ' ';
  input.value = '';
  input.placeholder = reason === 'required' ? 'required' : 'optional';
  ok.textContent = confirmLabel;
  ok.className = danger ? 'danger' : '';
  const sync = () => (ok.disabled = reason === 'required' && input.value.trim() === '');
  sync();

  return new Promise((resolve) => {
    const done = (answer) => {
      ok.removeEventListener('click', onOk);
      $('confirm-cancel').removeEventListener('click', onBack);
      input.removeEventListener('input', sync);
      dialog.removeEventListener('close', onClose);
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    const onOk = () => done({ reason: input.value.trim() || undefined });
    const onBack = () => done(null);
    const onClose = () => done(null);
    ok.addEventListener('click', onOk);
    $('confirm-cancel').addEventListener('click', onBack);
    input.addEventListener('input', sync);
    dialog.addEventListener('close', onClose);
    dialog.showModal();
    (reason === 'none' ? ok : input).focus();
  });
}
