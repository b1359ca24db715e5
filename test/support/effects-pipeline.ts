import { setTimeout as delay } from 'node:timers/promises';
import { instantImplementations, type Conveyor, type EffectSet, type Implementations, type SendOptions, type TaskView } from '../../actors/index.ts';

/** Instant stage work (every agent succeeds at once) with the journaled effects of `effects`. */
export function withEffects(effects: EffectSet): Implementations {
  return (rt) => ({ ...instantImplementations(rt), ...effects.implementations(rt) });
}

/** Polls until the task's view satisfies `matches`; throws with its recent history after `timeoutMs`. */
export async function waitForTask(conveyor: Conveyor, taskId: string, matches: (v: TaskView) => boolean, timeoutMs = 10_000): Promise<TaskView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = conveyor.task(taskId);
    if (view && matches(view)) return view;
    if (Date.now() > deadline) {
      const recent = conveyor.history(taskId).slice(-6).map((h) => `${h.source}:${h.event.type} ${h.accepted ? `→ ${h.to}` : `ignored (${h.reason})`}`);
      throw new Error(`effects-pipeline: task ${taskId} stays in ${view?.state ?? '(missing)'}; last events: ${recent.join('; ')}`);
    }
    await delay(2);
  }
}

/** Creates a task and brings it, with the facts webhooks would bring, into its testing stage (the edge before the merge). */
export async function driveToTesting(conveyor: Conveyor, t: { repo: string; pr: number; sha: string; branch?: string }): Promise<string> {
  const webhook: SendOptions = { source: 'webhook' };
  const { taskId } = await conveyor.createTask({ repo: t.repo, title: `change ${t.pr}`, branch: t.branch }, { source: 'operator' });
  await conveyor.send(taskId, { type: 'analysis.approved' }, { source: 'operator' });
  // The developer's pull request appears once development started (a head known before counts as stale there).
  await waitForTask(conveyor, taskId, (v) => v.stage === 'development');
  await conveyor.send(taskId, { type: 'pr.opened', number: t.pr, sha: t.sha }, webhook);
  await conveyor.send(taskId, { type: 'ci.status', sha: t.sha, state: 'success', context: 'ci' }, webhook);
  await waitForTask(conveyor, taskId, (v) => v.stage === 'review');
  await conveyor.send(taskId, { type: 'review.verdict', sha: t.sha, verdict: 'approved' }, webhook);
  await waitForTask(conveyor, taskId, (v) => v.stage === 'testing');
  return taskId;
}
