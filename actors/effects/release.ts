import type { TaskContext } from '../../machines/index.ts';
import type { RuntimeHandle, SendOutcome } from '../types.ts';
import { updateEffect, type EffectRecord } from './records.ts';

/** What releasing a stuck effect did. */
export type ReleaseOutcome =
  | { status: 'released'; record: EffectRecord; outcome: SendOutcome; resumed: boolean }
  | { status: 'not_found'; key: string }
  | { status: 'not_in_flight'; record: EffectRecord };

/** What a release needs of the runtime. */
export type ReleaseRuntime = Pick<RuntimeHandle, 'read' | 'write' | 'turns' | 'annotate' | 'send' | 'clock'> & {
  contextOf(taskId: string): TaskContext | undefined;
};

/**
 * An operator's way out of an effect stuck in `started` (a hung deploy, an outcome nobody can
 * establish): the journal records it failed (released, not retriable), the task's history says who
 * and why, and the task hears `effect.failed`, so its stage's onRed applies. A task the journal put on
 * hold for this very effect is resumed, and its re-invoked effect reports the release.
 */
export async function releaseEffect(rt: ReleaseRuntime, key: string, reason: string, by: string): Promise<ReleaseOutcome> {
  let released = false;
  const record = await updateEffect(rt, key, (current) => {
    if (current?.status !== 'started') return undefined;
    released = true;
    return { ...current, status: 'failed', error: `released by operator: ${reason}`, retriable: false, finishedAt: rt.clock.now(), releasedBy: by };
  });
  if (!record) return { status: 'not_found', key };
  if (!released || record.status !== 'failed') return { status: 'not_in_flight', record };
  await rt.annotate(record.taskId, {
    source: 'operator',
    event: { type: 'effect.released', key, effect: record.effect, by, reason },
    accepted: true,
    reason: `effect ${key} released by ${by}: ${reason}`,
  });
  const outcome = await rt.send(record.taskId, { type: 'effect.failed', effect: record.effect, error: record.error, retriable: false }, { source: 'operator' });
  const hold = rt.contextOf(record.taskId)?.hold?.reason ?? '';
  const resumed = outcome.status === 'ignored' && hold.startsWith(`effect ${key} in unknown state`);
  if (resumed) await rt.send(record.taskId, { type: 'task.resume' }, { source: 'operator' });
  return { status: 'released', record, outcome, resumed };
}
