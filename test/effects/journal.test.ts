import { afterEach, describe, expect, it, vi } from 'vitest';
import { createActor } from 'xstate';
import { journaledEffect, KeyedSerial, NonRetriableError, EffectAbandonedError, readEffect, updateEffect, type EffectRecord, type JournalStore, type Reconciled } from '../../actors/index.ts';
import type { EffectInput } from '../../machines/index.ts';
import { effectInput, RecordingRuntime, tempStore } from '../support/effects-runtime.ts';

type Handle = Awaited<ReturnType<typeof tempStore>>;
const handles: Handle[] = [];

afterEach(async () => {
  for (const h of handles.splice(0)) await h.cleanup();
});

async function setup(bootId = 'boot-2') {
  const h = await tempStore();
  handles.push(h);
  return { h, rt: new RecordingRuntime(h.store, bootId) };
}

/** A controllable effect: counts calls, and each call waits for `release()` unless told to finish at once. */
function fakeEffect(opts: { immediate?: boolean; fail?: Error; reconcile?: Reconciled<unknown> } = {}) {
  const calls: EffectInput[] = [];
  const reconciles: EffectRecord[] = [];
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  return {
    calls,
    reconciles,
    release: () => release(),
    run: async (input: EffectInput) => {
      calls.push(input);
      if (!opts.immediate) await gate;
      if (opts.fail) throw opts.fail;
      return { merged: true, call: calls.length };
    },
    reconcile: async (record: EffectRecord) => {
      reconciles.push(record);
      return opts.reconcile ?? { notDone: true as const };
    },
  };
}

const seed = (rt: RecordingRuntime, record: EffectRecord) => rt.write([{ kind: 'put', collection: 'effects', id: record.key, value: record }]);
const startedBy = (bootId: string, input = effectInput()): EffectRecord => ({
  status: 'started', key: input.key, taskId: input.taskId, effect: input.effect, bootId, startedAt: 1,
});

describe('journaledEffect', () => {
  it('reports a completed key with its recorded result and does not call out', async () => {
    const { rt } = await setup();
    const input = effectInput();
    await seed(rt, { ...startedBy('boot-1'), status: 'completed', result: { mergeSha: 'm1' }, finishedAt: 2 });
    const fx = fakeEffect({ immediate: true });
    createActor(journaledEffect({ rt, name: 'mergePullRequest', idempotent: false, ...fx }), { input }).start();
    await vi.waitFor(() => expect(rt.sent).toHaveLength(1));
    expect(rt.sent[0]).toEqual({ taskId: 't1', source: 'effect', event: { type: 'effect.done', effect: 'mergePullRequest', result: { mergeSha: 'm1' } } });
    expect(fx.calls).toHaveLength(0);
    expect(fx.reconciles).toHaveLength(0);
  });

  it('reports a failed key with its recorded failure and does not call out', async () => {
    const { rt } = await setup();
    const input = effectInput();
    await seed(rt, { ...startedBy('boot-1'), status: 'failed', error: 'merge-queue: conflicts in a.txt', retriable: false, finishedAt: 2 });
    const fx = fakeEffect({ immediate: true });
    createActor(journaledEffect({ rt, name: 'mergePullRequest', idempotent: true, ...fx }), { input }).start();
    await vi.waitFor(() => expect(rt.sent).toHaveLength(1));
    expect(rt.sent[0]!.event).toEqual({ type: 'effect.failed', effect: 'mergePullRequest', error: 'merge-queue: conflicts in a.txt', retriable: false });
    expect(fx.calls).toHaveLength(0);
  });

  it('journals started (with the boot id) before calling out and completed before reporting', async () => {
    const { h, rt } = await setup('boot-7');
    const input = effectInput();
    const fx = fakeEffect();
    createActor(journaledEffect({ rt, name: 'mergePullRequest', idempotent: false, ...fx }), { input }).start();
    await vi.waitFor(() => expect(fx.calls).toHaveLength(1));
    expect(rt.read<EffectRecord>('effects', input.key)).toMatchObject({ status: 'started', bootId: 'boot-7', taskId: 't1', effect: 'mergePullRequest', key: input.key });
    expect(rt.sent).toHaveLength(0);
    fx.release();
    await vi.waitFor(() => expect(rt.sent).toHaveLength(1));
    expect(rt.sent[0]!.event).toEqual({ type: 'effect.done', effect: 'mergePullRequest', result: { merged: true, call: 1 } });
    const reopened = await h.reopen();
    expect(reopened.get<EffectRecord>('effects', input.key)).toMatchObject({ status: 'completed', result: { merged: true, call: 1 } });
  });

  it('classifies a NonRetriableError as final and any other error as retriable', async () => {
    const { rt } = await setup();
    const final = effectInput({ key: 'final' });
    const transient = effectInput({ key: 'transient' });
    const conflict = fakeEffect({ immediate: true, fail: new NonRetriableError('merge-queue: conflicts in a.txt') });
    const outage = fakeEffect({ immediate: true, fail: new Error('forge: 502') });
    createActor(journaledEffect({ rt, name: 'mergePullRequest', idempotent: false, ...conflict }), { input: final }).start();
    createActor(journaledEffect({ rt, name: 'mergePullRequest', idempotent: false, ...outage }), { input: transient }).start();
    await vi.waitFor(() => expect(rt.sent).toHaveLength(2));
    expect(rt.read('effects', 'final')).toMatchObject({ status: 'failed', error: 'merge-queue: conflicts in a.txt', retriable: false });
    expect(rt.read('effects', 'transient')).toMatchObject({ status: 'failed', error: 'forge: 502', retriable: true });
    expect(rt.sent.map((s) => s.event)).toContainEqual({ type: 'effect.failed', effect: 'mergePullRequest', error: 'forge: 502', retriable: true });
  });

  it('records an earlier boot’s started effect as done when the outside world says so, without calling out', async () => {
    const { rt } = await setup('boot-2');
    const input = effectInput();
    await seed(rt, startedBy('boot-1'));
    const fx = fakeEffect({ immediate: true, reconcile: { done: { mergeSha: 'm9' } } });
    createActor(journaledEffect({ rt, name: 'mergePullRequest', idempotent: false, ...fx }), { input }).start();
    await vi.waitFor(() => expect(rt.sent).toHaveLength(1));
    expect(fx.calls).toHaveLength(0);
    expect(fx.reconciles).toEqual([startedBy('boot-1')]);
    expect(rt.sent[0]!.event).toEqual({ type: 'effect.done', effect: 'mergePullRequest', result: { mergeSha: 'm9' } });
    expect(rt.read('effects', input.key)).toMatchObject({ status: 'completed', bootId: 'boot-1', reconciled: { bootId: 'boot-2', outcome: 'done' } });
  });

  it('runs an earlier boot’s started effect again when the outside world says it did not happen', async () => {
    const { rt } = await setup('boot-2');
    const input = effectInput();
    await seed(rt, startedBy('boot-1'));
    const fx = fakeEffect({ immediate: true, reconcile: { notDone: true } });
    createActor(journaledEffect({ rt, name: 'mergePullRequest', idempotent: false, ...fx }), { input }).start();
    await vi.waitFor(() => expect(rt.sent).toHaveLength(1));
    expect(fx.calls).toHaveLength(1);
    expect(rt.read('effects', input.key)).toMatchObject({ status: 'completed', bootId: 'boot-2', reconciled: { outcome: 'not_done' } });
  });

  it('runs an idempotent effect again when its outcome is unknown', async () => {
    const { rt } = await setup('boot-2');
    const input = effectInput({ effect: 'deployStaging', key: 't1:deployStaging:e0:v5:a1' });
    await seed(rt, startedBy('boot-1', input));
    const fx = fakeEffect({ immediate: true, reconcile: { unknown: 'no check configured' } });
    createActor(journaledEffect({ rt, name: 'deployStaging', idempotent: true, ...fx }), { input }).start();
    await vi.waitFor(() => expect(rt.sent).toHaveLength(1));
    expect(fx.calls).toHaveLength(1);
    expect(rt.sent[0]!.event).toMatchObject({ type: 'effect.done', effect: 'deployStaging' });
  });

  it('asks the task for a decision and raises an alert when a non-idempotent effect’s outcome is unknown', async () => {
    const { rt } = await setup('boot-2');
    const input = effectInput();
    await seed(rt, startedBy('boot-1'));
    const fx = fakeEffect({ immediate: true, reconcile: { unknown: 'forge unreachable' } });
    createActor(journaledEffect({ rt, name: 'mergePullRequest', idempotent: false, ...fx }), { input }).start();
    await vi.waitFor(() => expect(rt.sent).toHaveLength(1));
    expect(fx.calls).toHaveLength(0);
    expect(rt.sent[0]).toEqual({ taskId: 't1', source: 'effect', event: { type: 'effect.unknown', effect: 'mergePullRequest', key: input.key, reason: 'forge unreachable' } });
    expect(rt.read('effects', input.key)).toMatchObject({ status: 'started', bootId: 'boot-1', reconciled: { outcome: 'unknown', reason: 'forge unreachable' } });
    expect(rt.list('alerts')).toEqual([expect.objectContaining({ kind: 'effect_unknown', key: input.key, taskId: 't1' })]);
  });

  it('lets a second invocation of a key in flight wait for the first instead of calling out again', async () => {
    const { rt } = await setup();
    const input = effectInput();
    const fx = fakeEffect();
    const logic = journaledEffect({ rt, name: 'mergePullRequest', idempotent: false, ...fx });
    const first = createActor(logic, { input }).start();
    await vi.waitFor(() => expect(fx.calls).toHaveLength(1));
    // The task left the state (a hold) and came back while the call was out.
    first.stop();
    createActor(logic, { input }).start();
    createActor(logic, { input }).start();
    await new Promise((resolve) => setTimeout(resolve, 20));
    fx.release();
    await vi.waitFor(() => expect(rt.sent).toHaveLength(2));
    expect(fx.calls).toHaveLength(1);
    expect(rt.sent.every((s) => s.event.type === 'effect.done')).toBe(true);
  });

  it('calls nothing when the transition that invoked it never became durable', async () => {
    const { rt } = await setup();
    const input = effectInput();
    rt.commit = Promise.reject(new Error('store: stale write'));
    rt.commit.catch(() => undefined);
    const fx = fakeEffect({ immediate: true });
    createActor(journaledEffect({ rt, name: 'mergePullRequest', idempotent: false, ...fx }), { input }).start();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(fx.calls).toHaveLength(0);
    expect(rt.read('effects', input.key)).toBeUndefined();
    expect(rt.sent).toHaveLength(0);
  });

  it('abandons a call nobody waits for before it reaches the outside world, and runs it afresh later', async () => {
    const { rt } = await setup();
    const input = effectInput();
    let outside = 0;
    let letGo!: () => void;
    const queued = new Promise<void>((resolve) => (letGo = resolve));
    const logic = journaledEffect({
      rt, name: 'mergePullRequest', idempotent: false,
      run: async (_input, signal) => {
        await queued; // waiting for the repository's turn
        if (signal.aborted) throw new EffectAbandonedError('effects: abandoned');
        outside++;
        return { merged: true };
      },
      reconcile: async () => ({ notDone: true }),
    });
    const held = createActor(logic, { input }).start();
    await vi.waitFor(() => expect(rt.read<EffectRecord>('effects', input.key)?.status).toBe('started'));
    held.stop();
    letGo();
    await vi.waitFor(() => expect(rt.read<EffectRecord>('effects', input.key)?.status).toBe('abandoned'));
    expect(outside).toBe(0);
    expect(rt.sent).toHaveLength(0);
    createActor(logic, { input }).start();
    await vi.waitFor(() => expect(rt.sent).toHaveLength(1));
    expect(outside).toBe(1);
    expect(rt.read('effects', input.key)).toMatchObject({ status: 'completed' });
  });

  it('does not make a restarted runtime wait on a write its dead predecessor never finished', async () => {
    const record: EffectRecord = { key: 'k1', taskId: 't1', effect: 'mergePullRequest', bootId: 'boot-1', startedAt: 0, status: 'started' };
    // The first runtime's disk write never comes back: its process died in it.
    const dead: JournalStore = { read: () => undefined, write: () => new Promise(() => undefined), turns: new KeyedSerial() };
    void updateEffect(dead, 'k1', () => record);
    const restarted: JournalStore = { read: <T>() => record as T, write: async () => undefined, turns: new KeyedSerial() };
    const read = await Promise.race([readEffect(restarted, 'k1'), new Promise((resolve) => setTimeout(() => resolve('still waiting'), 200))]);
    expect(read).toEqual(record);
  });
});
