import { fromCallback } from 'xstate';
import type { AgentInput, EffectInput, PrepareInput } from '../machines/index.ts';
import type { Implementations, RuntimeHandle, TaskEventInput } from './types.ts';
import type { EventSource } from '../store/index.ts';
import { timerActor } from './timer-actor.ts';

/** Reports an outcome after the transition that started the work is durable. */
function report(rt: RuntimeHandle, taskId: string, source: EventSource, ...events: TaskEventInput[]) {
  void (async () => {
    await rt.committed(taskId);
    for (const event of events) await rt.send(taskId, event, { source });
  })().catch(() => undefined);
}

/**
 * Implementations where every stage's work finishes at once and succeeds: the task moves only on the
 * facts that webhooks and operators bring. Used when no agents or effects are configured.
 */
export const instantImplementations: Implementations = (rt) => ({
  timer: timerActor(rt),
  prepareStage: fromCallback<{ type: string }, PrepareInput>(({ input }) => {
    report(rt, input.taskId, 'runtime', { type: 'stage.prepared' });
  }),
  runAgent: fromCallback<{ type: string }, AgentInput>(({ input }) => {
    const jobId = input.job?.id;
    if (!jobId) return;
    report(rt, input.taskId, 'job', { type: 'job.started', jobId }, { type: 'job.exited', jobId, code: 0 });
  }),
  ...Object.fromEntries(
    (['mergePullRequest', 'deployStaging', 'deployProduction'] as const).map((name) => [
      name,
      fromCallback<{ type: string }, EffectInput>(({ input }) => {
        report(rt, input.taskId, 'effect', { type: 'effect.done', effect: input.effect, result: { simulated: true } });
      }),
    ]),
  ),
});
