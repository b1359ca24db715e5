// The history slider: the chart as the task stood after any entry of its history, or live at the right end.

import { enc } from './api.js';
import { $ } from './dom.js';

/** What the slider knows of each history entry: its event type and the state it left the task in. */
let steps = [];
let following = true;
let onMove = () => {};

/** Runs `redraw` whenever the slider moves (the chart to draw is chartPath's). */
export function initSlider(redraw) {
  onMove = redraw;
  $('step').addEventListener('input', () => {
    following = Number($('step').value) >= steps.length;
    label();
    onMove();
  });
}

/** A newly shown task's whole history (entries as GET /history answers them); the slider follows it live. */
export function resetSlider(history) {
  steps = history.map((h) => ({ type: h.event.type, state: h.accepted ? h.to : h.from }));
  following = true;
  sync();
}

/** One more history entry, from the event stream: a slider following live stays at the end. */
export function extendSlider(m) {
  steps.push({ type: m.event, state: m.accepted ? m.to : m.from });
  sync();
}

/** The chart to draw for the shown task: live, or as it stood at the chosen step (folded by the server). */
export function chartPath(taskId) {
  const base = '/tasks/' + enc(taskId);
  return following ? base + '/chart.svg' : base + '/at/' + $('step').value + '/chart.svg';
}

function sync() {
  const s = $('step');
  s.max = String(Math.max(1, steps.length));
  if (following) s.value = s.max;
  s.disabled = steps.length < 2;
  label();
}

function label() {
  const n = Number($('step').value);
  const step = steps[n - 1];
  const where = step ? 'step ' + n + ' of ' + steps.length + ': ' + step.type + ' → ' + step.state : '';
  $('step-label').textContent = following ? where + ' (live)' : where;
}
