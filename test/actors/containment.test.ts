import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { fromCallback, fromPromise } from 'xstate';
import { Conveyor, instantImplementations, MissingImplementationError, TaskEventError, type Implementations, type TaskView } from '../../actors/index.ts';
import { defaultPipeline } from '../../machines/index.ts';
import { createApp } from '../../server/app.ts';
import { defaultTrackerRouting } from '../../server/default-tracker.ts';
import { EmbeddedStore, type TaskRecord } from '../../store/index.ts';
import { quietImplementations } from '../support/quiet-implementations.ts';

const dirs: string[] = [];
const open: Conveyor[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c.stop().catch(() => undefined);
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** Work that finishes at once and succeeds, but for the overrides. */
function implementationsWith(overrides: ReturnType<Implementations>): Implementations {
  return (rt) => ({ ...instantImplementations(rt), ...overrides });
}

/** Retries come quickly, so a test sees a whole budget spent. */
const pipeline = { ...defaultPipeline, baseBackoffMs: 5 };

async function start(implementations: Implementations, dir?: string): Promise<{ conveyor: Conveyor; dir: string }> {
  const d = dir ?? (await mkdtemp(join(tmpdir(), 'conveyor-contain-')));
  if (!dir) dirs.push(d);
  const conveyor = new Conveyor({ store: new EmbeddedStore({ dir: d }), implementations, pipeline });
  await conveyor.start();
  open.push(conveyor);
  return { conveyor, dir: d };
}

async function waitFor(conveyor: Conveyor, id: string, state: string): Promise<TaskView> {
  // A deadline in wall time, not a count of polls: on a busy machine each poll can take far longer than its delay.
  const deadline = Date.now() + 25_000;
  while (Date.now() < deadline) {
    const view = conveyor.task(id);
    if (view?.state === state) return view;
    await delay(5);
  }
  throw new Error(`task ${id} never reached ${state}; it is in ${conveyor.task(id)?.state}`);
}

/** Makes the task chart's `name` guard or action throw, as a bug in the chart's own code would. */
function breakChart(conveyor: Conveyor, kind: 'guards' | 'actions', name: string): void {
  const boom = () => {
    throw new Error(`${name} exploded`);
  };
  Object.assign(conveyor.runtime, { machine: conveyor.runtime.machine.provide({ [kind]: { [name]: boom } } as never) });
}

describe('a throw inside the task machine', () => {
  it('leaves the task at its last committed state, records it, answers 5xx and keeps the process alive', async () => {
    const { conveyor } = await start(implementationsWith({}));
    const { taskId } = await conveyor.createTask({ repo: 'shop', title: 'guarded' }, { source: 'operator' });
    await waitFor(conveyor, taskId, 'analysis.gating');
    const before = conveyor.record(taskId)!;
    breakChart(conveyor, 'guards', 'ciForHead');

    const failed = await conveyor.send(taskId, { type: 'ci.status', sha: 'a'.repeat(40), state: 'success', context: 'build' }, { source: 'webhook', deliveryKey: 'd-1' }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(TaskEventError);
    expect((failed as Error).message).toContain('ciForHead exploded');

    // Nothing was committed of the transition, and the delivery is not marked seen: its retry is not a duplicate.
    expect(conveyor.record(taskId)).toEqual(before);
    expect((conveyor.record(taskId)!.snapshot as { status: string }).status).toBe('active');
    expect(conveyor.hasDelivery('d-1')).toBe(false);
    expect(conveyor.history(taskId).at(-1)).toMatchObject({ event: { type: 'ci.status' }, accepted: false, reason: expect.stringContaining('ciForHead exploded') });
    expect(conveyor.alerts()).toContainEqual(expect.objectContaining({ kind: 'task_event_failed', taskId, event: 'ci.status', error: expect.stringContaining('ciForHead exploded') }));

    // Through HTTP the same throw is a 500 naming it, so a webhook sender retries.
    const app = createApp({ conveyor, apiToken: 't', trackerSecret: 's', forgeSecret: 's', tracker: defaultTrackerRouting });
    breakChart(conveyor, 'actions', 'recordApproval');
    const res = await app.request(`/api/tasks/${taskId}/events`, { method: 'POST', headers: { authorization: 'Bearer t', 'content-type': 'application/json' }, body: JSON.stringify({ type: 'approve' }) });
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('recordApproval exploded');

    // The process lived through it (an unhandled XState error would end it from a timer) and the task takes events.
    await delay(20);
    expect((await conveyor.send(taskId, { type: 'task.hold', reason: 'look at it' }, { source: 'operator' })).status).toBe('accepted');
    expect(conveyor.task(taskId)?.state).toBe('onHold');
  });

  it('takes task.cancel and task.hold even when leaving the state throws', async () => {
    const { conveyor } = await start(implementationsWith({}));
    const { taskId } = await conveyor.createTask({ repo: 'shop', title: 'stuck exit' }, { source: 'operator' });
    await waitFor(conveyor, taskId, 'analysis.gating');
    breakChart(conveyor, 'actions', 'withdrawDecision');

    expect(await conveyor.send(taskId, { type: 'task.hold', reason: 'blocked' }, { source: 'operator' })).toMatchObject({ status: 'accepted', to: 'onHold' });
    expect(conveyor.task(taskId)?.context.hold).toEqual({ reason: 'blocked' });
    // Resumed where it was, as a hold always does.
    expect(await conveyor.send(taskId, { type: 'task.resume' }, { source: 'operator' })).toMatchObject({ status: 'accepted', to: 'analysis.gating' });
    expect(await conveyor.send(taskId, { type: 'task.cancel', reason: 'dropped' }, { source: 'operator' })).toMatchObject({ status: 'accepted', to: 'cancelled' });
    expect((conveyor.record(taskId)!.snapshot as { status: string }).status).toBe('done');
    // The decision the exit would have withdrawn is not left pending.
    expect(conveyor.decisions.list('pending').filter((d) => d.taskId === taskId)).toEqual([]);
  });

  it('takes the event after a forced hold from the held task, not from the snapshot its last dormant transition left', async () => {
    const { conveyor } = await start(implementationsWith({}));
    const { taskId } = await conveyor.createTask({ repo: 'shop', title: 'forced after dormant' }, { source: 'operator' });
    await waitFor(conveyor, taskId, 'analysis.gating');
    breakChart(conveyor, 'actions', 'withdrawDecision');
    // Taken without an actor: the task keeps the snapshot this transition left for its next event.
    expect(await conveyor.send(taskId, { type: 'pr.opened', number: 3, sha: 'b'.repeat(40) }, { source: 'webhook' })).toMatchObject({ status: 'accepted' });
    // Leaving the gate throws, so the hold is written by force, beside the dormant path.
    expect(await conveyor.send(taskId, { type: 'task.hold', reason: 'blocked' }, { source: 'operator' })).toMatchObject({ status: 'accepted', to: 'onHold' });
    expect(await conveyor.send(taskId, { type: 'task.resume' }, { source: 'operator' })).toMatchObject({ status: 'accepted', from: 'onHold', to: 'analysis.gating' });
    expect(conveyor.task(taskId)?.context.head).toMatchObject({ sha: 'b'.repeat(40), pr: 3 });
  });

  it('turns an implementation that throws or rejects into the failure its invoke routes: retried, then escalated with the message', async () => {
    let runs = 0;
    const { conveyor } = await start(implementationsWith({
      runAgent: fromPromise(async () => {
        runs++;
        throw new Error('the runner fell over');
      }),
      // The backoff timer is the real one: it fires at its deadline, and again if the clock woke it early.
    }));
    const { taskId } = await conveyor.createTask({ repo: 'shop', title: 'runner bug' }, { source: 'operator' });
    const view = await waitFor(conveyor, taskId, 'escalated');
    expect(runs).toBe(conveyor.runtime.pipeline.maxJobAttempts);
    expect(view.context.escalation).toEqual({ stage: 'analysis', reason: 'job attempts exhausted: the runner fell over' });
    expect(conveyor.history(taskId).filter((h) => h.event.type === 'xstate.error.actor.job' && h.accepted)).toHaveLength(runs);
  });

  it('refuses a failure of an invocation the task no longer runs', async () => {
    const { conveyor } = await start(implementationsWith({ runAgent: fromCallback(() => undefined) }));
    const { taskId } = await conveyor.createTask({ repo: 'shop', title: 'stale' }, { source: 'operator' });
    await waitFor(conveyor, taskId, 'analysis.working.queued');
    const outcome = await conveyor.send(taskId, { type: 'xstate.error.actor.job', error: 'late' }, { source: 'runtime', invocation: { id: 'job' } });
    expect(outcome).toMatchObject({ status: 'ignored', reason: expect.stringMatching(/^stale: a failure of an invocation the task has left/) });
    expect(conveyor.task(taskId)?.state).toBe('analysis.working.queued');
  });
});

describe('a persisted error snapshot', () => {
  it('is quarantined at start: listed by task id, refused with a reason, and cancellable', async () => {
    const { conveyor, dir } = await start(implementationsWith({}));
    const { taskId } = await conveyor.createTask({ repo: 'shop', title: 'older build' }, { source: 'operator' });
    const other = (await conveyor.createTask({ repo: 'shop', title: 'healthy' }, { source: 'operator' })).taskId;
    await waitFor(conveyor, taskId, 'analysis.gating');
    await conveyor.stop();
    open.splice(0);
    // As an older build left it: it committed the actor's error status.
    const store = new EmbeddedStore({ dir });
    await store.load();
    const record = store.getTask(taskId)!;
    const broken: TaskRecord = { ...record, rev: record.rev + 1, snapshot: { ...(record.snapshot as object), status: 'error', error: { message: 'guard exploded' } } };
    await store.commit([{ kind: 'task', task: broken, expectedRev: record.rev }]);
    await store.close();

    const { conveyor: again } = await start(implementationsWith({}), dir);
    expect(again.status().quarantined).toEqual([{ taskId, state: 'analysis.gating', error: expect.stringContaining('guard exploded') }]);
    expect(again.alerts()).toContainEqual(expect.objectContaining({ kind: 'task_quarantined', taskId }));
    const refused = await again.send(taskId, { type: 'analysis.approved' }, { source: 'operator' });
    expect(refused).toMatchObject({ status: 'ignored', reason: expect.stringContaining('quarantined') });
    expect(again.history(taskId).at(-1)).toMatchObject({ accepted: false, reason: expect.stringContaining('quarantined') });
    // The other task is untouched by it.
    expect((await again.send(other, { type: 'analysis.approved' }, { source: 'operator' })).status).toBe('accepted');

    expect(await again.send(taskId, { type: 'task.cancel', reason: 'clean up' }, { source: 'operator' })).toMatchObject({ status: 'accepted', to: 'cancelled' });
    expect(again.status().quarantined).toEqual([]);
  });
});

describe('implementations', () => {
  it('are all required at start: a chart naming an actor nobody implements is refused, naming it', async () => {
    const { deployProduction: _gone, ...rest } = quietImplementations({} as never);
    const refused = await start(() => rest).then(() => null, (e: unknown) => e as Error);
    expect(refused).toBeInstanceOf(MissingImplementationError);
    expect(refused?.message).toContain('actor deployProduction at task.active.deploy.deployProduction.running');
  });
});
