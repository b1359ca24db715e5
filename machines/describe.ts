import type { StateValue } from 'xstate';
import type { TaskContext } from './context.ts';
import type { TaskEvent } from './events.ts';

/** How a refusal of a timer that fired before its deadline begins; the timer actor waits out the rest. */
export const EARLY_TIMER = 'early:';

/** "review.gating", "onHold", "done": the state value as one readable path. */
export function describeState(value: StateValue): string {
  if (typeof value === 'string') return value;
  const [key, child] = Object.entries(value)[0] ?? ['?', ''];
  const rest = child === undefined ? '' : describeState(child as StateValue);
  const path = rest ? `${key}.${rest}` : key;
  return path.startsWith('active.') ? path.slice('active.'.length) : path;
}

/** The pipeline stage a state is in, or the top-level state (onHold, escalated, done, cancelled). */
export function stageOf(value: StateValue): string {
  return describeState(value).split('.')[0] ?? '?';
}

/** Why an event the machine refuses changes nothing, for the history (SPEC R2). */
export function explainRefusal(
  snapshot: { status: string; value: StateValue; context: TaskContext },
  event: TaskEvent,
): string {
  const state = describeState(snapshot.value);
  if (snapshot.status !== 'active') return `the task is ${state}; it takes no more events`;
  const head = snapshot.context.head;
  if ('sha' in event && event.type !== 'pr.opened' && event.type !== 'pr.synchronized') {
    if (!head) return `no head sha is known yet; ${event.type} for ${event.sha} cannot be matched`;
    if (head.sha !== event.sha) return `stale: ${event.sha} is not the head ${head.sha}`;
  }
  if ('jobId' in event && event.jobId !== snapshot.context.job?.id) {
    return `stale: job ${event.jobId} is not the current job ${snapshot.context.job?.id ?? '(none)'}`;
  }
  if (event.type === 'timer.fired' && event.deadline !== snapshot.context.deadline) return 'stale: a timer of an earlier state';
  if (event.type === 'timer.fired' && event.at < event.deadline) return `${EARLY_TIMER} the timer fired ${event.deadline - event.at} ms before its deadline`;
  if ((event.type === 'analysis.approved' || event.type === 'analysis.rejected') && !state.startsWith('analysis')) {
    return `redundant: analysis was already decided; the task is in ${state}`;
  }
  if (event.type === 'decision.resolved' && event.decisionId !== snapshot.context.decision?.id) {
    return `decision ${event.decisionId} is not the one the task waits on (${snapshot.context.decision?.id ?? 'none'}); no route for it in ${state}`;
  }
  return `${event.type} is not accepted in ${state}`;
}
