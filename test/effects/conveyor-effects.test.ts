import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Conveyor, EffectSet, Runtime, type EffectRecord, type ForgeConfig } from '../../actors/index.ts';
import { createApp } from '../../server/app.ts';
import { defaultTrackerRouting } from '../../server/default-tracker.ts';
import { EmbeddedStore, StaleWriteError } from '../../store/index.ts';
import { driveToTesting, waitForTask, withEffects } from '../support/effects-pipeline.ts';
import { ForgeDouble } from '../support/forge-double.ts';
import { ABORT, EFFECT_HAPPENED, EFFECT_RUN_AGAIN } from '../../machines/index.ts';

const SHA = 'a'.repeat(40);
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'conveyor-fx-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function double(): Promise<ForgeDouble> {
  const d = await ForgeDouble.start();
  cleanups.push(() => d.close());
  return d;
}

function effectsFor(forge: ForgeConfig, dir: string): EffectSet {
  return new EffectSet({ repos: [{ name: 'shop', targetBranch: 'main', forge }], worktreeFor: async () => null, cwdFor: async () => dir });
}

async function open(dir: string, forge: ForgeConfig, store = new EmbeddedStore({ dir })): Promise<Conveyor> {
  const conveyor = new Conveyor({ store, implementations: withEffects(effectsFor(forge, dir)) });
  await conveyor.start();
  return conveyor;
}

/** Whether the task went from its merge back to development (the staging stage's onRed). */
const rolledBack = (c: Conveyor, taskId: string) =>
  c.history(taskId).some((h) => h.accepted && h.from.startsWith('deploy-staging.mergePullRequest') && h.to.startsWith('development'));

const mergeKeyOf = (c: Conveyor, taskId: string) => c.effects({ taskId }).find((r) => r.effect === 'mergePullRequest')!.key;

describe('journaled effects in a running conveyor', () => {
  it('merges through the forge once and moves the task on to its staging gate', async () => {
    const dir = await tempDir();
    const forge = await double();
    const pr = forge.addPullRequest({ head: 'conveyor/x', headSha: SHA });
    const conveyor = await open(dir, forge.config());
    cleanups.push(() => conveyor.stop());
    const taskId = await driveToTesting(conveyor, { repo: 'shop', pr: pr.number, sha: SHA });
    await conveyor.send(taskId, { type: 'test.result', sha: SHA, passed: true }, { source: 'webhook' });
    const view = await waitForTask(conveyor, taskId, (v) => v.state === 'deploy-staging.gating');
    expect(pr).toMatchObject({ merges: 1, mergeCalls: 1 });
    expect(conveyor.effects({ taskId }).map((r) => [r.effect, r.status])).toEqual(expect.arrayContaining([['mergePullRequest', 'completed'], ['deployStaging', 'completed']]));
    const merge = conveyor.effects({ taskId }).find((r) => r.effect === 'mergePullRequest');
    expect(merge).toMatchObject({ status: 'completed', result: { merged: true, mergeSha: pr.mergeSha } });
    expect(conveyor.effects({ taskId }).find((r) => r.effect === 'deployStaging')).toMatchObject({ result: { environment: 'staging', skipped: true } });
    expect(view.context.retries).toBe(0);
    expect(conveyor.status().effects).toEqual({ inFlight: [], reconciled: 0 });
  });

  it('runs no effect for a transition that lost the race on the stage’s rev (SPEC R17)', async () => {
    const dir = await tempDir();
    const forge = await double();
    const pr = forge.addPullRequest({ head: 'conveyor/y', headSha: SHA });
    const store = new EmbeddedStore({ dir });
    const conveyor = await open(dir, forge.config(), store);
    cleanups.push(() => conveyor.stop());
    const taskId = await driveToTesting(conveyor, { repo: 'shop', pr: pr.number, sha: SHA });
    await waitForTask(conveyor, taskId, (v) => v.state === 'testing.gating');
    // A second runtime on the same store (a second instance, say) takes the same transition at the same rev.
    const rival = new Runtime({ store, bootId: 'rival', implementations: withEffects(effectsFor(forge.config(), dir)) });
    rival.start();
    const event = { type: 'test.result' as const, sha: SHA, passed: true };
    const outcomes = await Promise.allSettled([
      conveyor.send(taskId, event, { source: 'webhook', deliveryKey: 'from-webhook' }),
      rival.send(taskId, event, { source: 'reconciler', deliveryKey: 'from-reconciler' }),
    ]);
    const refused = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [{ reason: o.reason as unknown, source: i === 0 ? 'webhook' : 'reconciler' }] : []));
    expect(refused).toHaveLength(1);
    expect(refused[0]!.reason).toBeInstanceOf(StaleWriteError);
    // Nothing of the losing write was applied: not its history line, not its delivery key.
    expect(conveyor.history(taskId).filter((h) => h.event.type === 'test.result').map((h) => h.source)).not.toContain(refused[0]!.source);
    expect(store.hasDelivery(`from-${refused[0]!.source}`)).toBe(false);
    await waitForTask(conveyor, taskId, (v) => v.state === 'deploy-staging.gating');
    expect(pr).toMatchObject({ merges: 1, mergeCalls: 1 });
    const entered = conveyor.history(taskId).filter((h) => h.accepted && h.from.startsWith('testing') && h.to.startsWith('deploy-staging'));
    expect(entered).toHaveLength(1);
    expect(conveyor.effects({ taskId }).filter((r) => r.effect === 'mergePullRequest')).toHaveLength(1);
    await rival.stop();
  });

  it('lets an operator release a stuck merge over the API: journaled, annotated, and the task rolls back', async () => {
    const dir = await tempDir();
    const forge = await double();
    let unblock!: () => void;
    const blocked = new Promise<void>((resolve) => (unblock = resolve));
    forge.hooks.onMergeCall = () => blocked;
    const pr = forge.addPullRequest({ head: 'conveyor/z', headSha: SHA });
    const conveyor = await open(dir, forge.config());
    cleanups.push(async () => {
      unblock();
      await conveyor.stop();
    });
    const app = createApp({ conveyor, apiToken: 'op-token', trackerSecret: 's', forgeSecret: 's', tracker: defaultTrackerRouting });
    const api = (method: string, path: string, body?: unknown, token = 'op-token') =>
      app.request(`/api${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const taskId = await driveToTesting(conveyor, { repo: 'shop', pr: pr.number, sha: SHA });
    await conveyor.send(taskId, { type: 'test.result', sha: SHA, passed: true }, { source: 'webhook' });
    await waitForTask(conveyor, taskId, () => pr.mergeCalls === 1);

    expect((await api('GET', '/effects?status=bogus')).status).toBe(422);
    const listed = await (await api('GET', '/effects?status=started')).json() as { effects: EffectRecord[] };
    expect(listed.effects).toEqual([expect.objectContaining({ taskId, effect: 'mergePullRequest', status: 'started' })]);
    expect(conveyor.status().effects.inFlight).toHaveLength(1);
    const key = listed.effects[0]!.key;

    expect((await api('POST', `/effects/${encodeURIComponent(key)}/release`, { reason: 'forge hung', by: 'ana' }, 'wrong')).status).toBe(401);
    expect((await api('POST', `/effects/${encodeURIComponent(key)}/release`, { reason: '' })).status).toBe(422);
    expect((await api('POST', '/effects/nope/release', { reason: 'x', by: 'ana' })).status).toBe(404);
    const res = await api('POST', `/effects/${encodeURIComponent(key)}/release`, { reason: 'forge hung', by: 'ana' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ effect: { status: 'failed', releasedBy: 'ana', error: 'released by operator: forge hung' }, outcome: { status: 'accepted', to: expect.stringMatching(/^development/) } });
    expect((await api('POST', `/effects/${encodeURIComponent(key)}/release`, { reason: 'again', by: 'ana' })).status).toBe(409);

    await waitForTask(conveyor, taskId, (v) => v.context.retries === 1);
    expect(rolledBack(conveyor, taskId)).toBe(true);
    const history = conveyor.history(taskId);
    expect(history).toContainEqual(expect.objectContaining({ source: 'operator', event: expect.objectContaining({ type: 'effect.released', key, by: 'ana', reason: 'forge hung' }) }));
    expect(history).toContainEqual(expect.objectContaining({ source: 'operator', accepted: true, event: expect.objectContaining({ type: 'effect.failed', retriable: false }) }));
    expect(conveyor.status().effects.inFlight).toEqual([]);

    // The call that was out finishes after all: the release stands and the late answer is kept beside it.
    unblock();
    await waitForTask(conveyor, taskId, () => conveyor.effects({ taskId }).some((r) => r.status === 'failed' && r.late !== undefined));
    expect(conveyor.effects({ taskId }).find((r) => r.key === key)).toMatchObject({ status: 'failed', releasedBy: 'ana', late: { result: { merged: true } } });
    expect(conveyor.history(taskId).filter((h) => h.accepted && h.event.type === 'effect.done' && h.event.effect === 'mergePullRequest')).toEqual([]);
  });

  it('lets the forge refuse an earlier boot’s merge that lands after the restarted conveyor merged, so it counts once', async () => {
    const dir = await tempDir();
    const forge = await double();
    let letFirstThrough!: () => void;
    const firstHeld = new Promise<void>((resolve) => (letFirstThrough = resolve));
    forge.hooks.onMergeCall = (pr) => (pr.mergeCalls === 1 ? firstHeld : undefined);
    const pr = forge.addPullRequest({ head: 'conveyor/v', headSha: SHA });
    const first = await open(dir, forge.config());
    const taskId = await driveToTesting(first, { repo: 'shop', pr: pr.number, sha: SHA });
    await first.send(taskId, { type: 'test.result', sha: SHA, passed: true }, { source: 'webhook' });
    await waitForTask(first, taskId, () => pr.mergeCalls === 1);
    // The process restarts while its merge call is still out at the forge.
    await first.stop();
    const second = await open(dir, forge.config());
    cleanups.push(() => second.stop());
    await waitForTask(second, taskId, (v) => v.state === 'deploy-staging.gating');
    expect(pr).toMatchObject({ merges: 1, mergeCalls: 2 });
    letFirstThrough();
    // The old call's read-back after its refusal is the fifth read of the pull request.
    await waitForTask(second, taskId, () => forge.requests.filter((r) => r.path.endsWith(`/pulls/${pr.number}`)).length >= 5);
    expect(pr).toMatchObject({ merges: 1, mergeCalls: 2 });
    expect(second.effects({ taskId }).find((r) => r.effect === 'mergePullRequest')).toMatchObject({ status: 'completed', reconciled: { outcome: 'not_done' } });
    expect(second.history(taskId).filter((h) => h.accepted && h.event.type === 'effect.done' && h.event.effect === 'mergePullRequest')).toHaveLength(1);
    expect(rolledBack(second, taskId)).toBe(false);
  });

  it('asks a human whether a merge an earlier boot started happened when the forge cannot say, and the answer settles it', async () => {
    const dir = await tempDir();
    const forge = await double();
    forge.hooks.onMergeCall = () => new Promise<void>(() => undefined);
    const pr = forge.addPullRequest({ head: 'conveyor/w', headSha: SHA });
    const first = await open(dir, forge.config());
    const taskId = await driveToTesting(first, { repo: 'shop', pr: pr.number, sha: SHA });
    await first.send(taskId, { type: 'test.result', sha: SHA, passed: true }, { source: 'webhook' });
    await waitForTask(first, taskId, () => pr.mergeCalls === 1);
    const key = mergeKeyOf(first, taskId);
    await first.stop();

    // Restarted where the forge is unreachable: whether the merge happened cannot be established.
    const unreachable = { ...forge.config(), apiBase: 'http://127.0.0.1:9/api/v1' };
    const second = await open(dir, unreachable);
    cleanups.push(() => second.stop());
    await waitForTask(second, taskId, (v) => v.state === 'deploy-staging.mergePullRequest.unknown');
    const decision = second.decisions.list('pending').find((d) => d.taskId === taskId);
    expect(decision).toMatchObject({ contextKey: `effect_unknown:${key}`, options: [EFFECT_HAPPENED, EFFECT_RUN_AGAIN, ABORT] });
    expect(decision?.question).toMatch(/cannot ask the forge/);
    expect(second.alerts()).toContainEqual(expect.objectContaining({ kind: 'effect_unknown', key, taskId }));
    expect(second.effects({ taskId }).find((r) => r.key === key)).toMatchObject({ status: 'started', reconciled: { outcome: 'unknown' } });
    expect(second.status().effects.inFlight.map((r) => r.key)).toEqual([key]);

    // Checked by hand on the forge: it was merged.
    expect(await second.decisions.resolve(decision!.id, EFFECT_HAPPENED, 'ana')).toMatchObject({ ok: true });
    await waitForTask(second, taskId, (v) => !v.state.startsWith('deploy-staging.mergePullRequest'));
    expect(second.effects({ taskId }).find((r) => r.key === key)).toMatchObject({ status: 'completed', settledBy: 'ana' });
    expect(second.status().effects.inFlight.map((r) => r.key)).not.toContain(key);
    expect(rolledBack(second, taskId)).toBe(false);
    expect(pr.merges).toBe(0);
  });
});
