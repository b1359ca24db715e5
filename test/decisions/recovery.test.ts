import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DecisionRecord, TaskView } from '../../actors/index.ts';
import { ABORT, CONTINUE_AFTER_RESET } from '../../machines/index.ts';
import type { HistoryEntry } from '../../store/index.ts';
import { commitFiles, git, isolateGitConfig } from '../git/fixtures.ts';
import { waitForState } from '../support/http-fixtures.ts';
import {
  diverge, exists, json, makeGitApp, pendingOf, refresh, taskInDevelopment, waitFor, type GitApp, type RecoveryConflict,
} from './git-app.ts';

let restoreEnv: () => void;
beforeAll(() => {
  restoreEnv = isolateGitConfig();
});
afterAll(() => restoreEnv());

let t: GitApp;
beforeEach(async () => {
  t = await makeGitApp();
});
afterEach(async () => {
  await t.close();
});

const resolve = (id: string, option: string, by = 'pat') => t.api('POST', `/decisions/${id}/resolve`, { option, by });
const backupRefs = async (taskId: string) =>
  (await git(t.worktreeOf(taskId), 'for-each-ref', '--format=%(refname) %(objectname)', `refs/conveyor/sync-recovery/${taskId}/`)).split('\n').filter(Boolean);
const headOf = (taskId: string) => git(t.worktreeOf(taskId), 'rev-parse', 'HEAD');
const emittedTypes = (entry: HistoryEntry | undefined) => ((entry?.emitted ?? []) as { type: string }[]).map((e) => e.type);
const resetEntry = (taskId: string, type = 'stage.sync_reset') => t.conveyor.history(taskId).filter((h) => h.event.type === type && h.accepted).at(-1);

/** The one pending recovery decision of a task, checked against the task's own failure. */
function recoveryDecision(task: TaskView, stage: string): DecisionRecord {
  const pending = pendingOf(t, task.id);
  expect(pending).toHaveLength(1);
  const decision = pending[0]!;
  expect(decision.contextKey).toBe(`hard_reset_recovery:${stage}`);
  expect(decision.id).toBe(task.context.decision?.id);
  expect(decision.data).toEqual({ backupRef: task.context.failure?.backupRef, discardedShas: task.context.failure?.discardedShas });
  return decision;
}

/** A task at review's gate with one developer retry counted (review asked for changes once). */
async function taskInReviewAfterRetry(): Promise<TaskView> {
  const task = await taskInDevelopment(t);
  const sha = await headOf(task.id);
  // The forge names the head (the pull request), CI reports on it.
  await t.conveyor.send(task.id, { type: 'pr.opened', number: 1, sha }, { source: 'webhook' });
  await t.conveyor.send(task.id, { type: 'ci.status', sha, state: 'success', context: 'ci/build' }, { source: 'webhook' });
  await waitForState(t.conveyor, task.id, 'review.gating', 10_000);
  await t.conveyor.send(task.id, { type: 'review.verdict', sha, verdict: 'changes_requested', comments: 'add a test' }, { source: 'webhook' });
  // Rolled back to development, which waits for a new head: the developer's fix, pushed, then green CI for it.
  await waitForState(t.conveyor, task.id, (v) => v.state === 'development.gating' && v.context.retries === 1, 10_000);
  const worktree = t.worktreeOf(task.id);
  const fix = await commitFiles(worktree, { 'TEST.md': 'a test\n' }, 'add a test');
  await git(worktree, 'push', 'origin', `HEAD:refs/heads/${task.branch}`);
  await t.conveyor.send(task.id, { type: 'pr.synchronized', sha: fix }, { source: 'webhook' });
  await t.conveyor.send(task.id, { type: 'ci.status', sha: fix, state: 'success', context: 'ci/build' }, { source: 'webhook' });
  return waitForState(t.conveyor, task.id, (v) => v.state === 'review.gating' && v.context.retries === 1, 10_000);
}

/** Diverges a task resting at development's gate, then lets green CI carry it into review, whose preparation syncs. */
async function resetAtReviewBoundary(): Promise<{ task: TaskView; diverged: Awaited<ReturnType<typeof diverge>> }> {
  const task = await taskInDevelopment(t);
  const diverged = await diverge(t, task.id, '1');
  await t.conveyor.send(task.id, { type: 'pr.opened', number: 1, sha: diverged.local }, { source: 'webhook' });
  const outcome = await t.conveyor.send(task.id, { type: 'ci.status', sha: diverged.local, state: 'success', context: 'ci/build' }, { source: 'webhook' });
  expect(outcome).toMatchObject({ status: 'accepted', to: 'review.preparing' });
  return { task: await waitForState(t.conveyor, task.id, 'recovery.awaitingAck', 10_000), diverged };
}

/** Installs a pre-rebase hook that takes the worktree's index lock, so both the rebase and the reset fail. */
async function lockIndexOnRebase(taskId: string): Promise<{ unlock: () => Promise<void> }> {
  const hooks = join(t.root, 'hooks');
  await mkdir(hooks);
  await writeFile(join(hooks, 'pre-rebase'), '#!/bin/sh\ntouch "$(git rev-parse --git-dir)/index.lock"\nexit 1\n');
  await chmod(join(hooks, 'pre-rebase'), 0o755);
  await git(t.bare, 'config', 'core.hooksPath', hooks);
  return {
    unlock: async () => {
      await git(t.bare, 'config', '--unset', 'core.hooksPath');
      await rm(join(await git(t.worktreeOf(taskId), 'rev-parse', '--absolute-git-dir'), 'index.lock'));
    },
  };
}

describe('hard reset through the refresh route', () => {
  it('answers 409 with the backup ref, the discarded shas and a pending recovery decision, and pins the local work', async () => {
    const task = await taskInDevelopment(t);
    const jobsBefore = t.conveyor.jobsOf(task.id).map((j) => j.id);
    const { remote, local, wip } = await diverge(t, task.id, '1');

    const res = await refresh(t, task.id, 'development');
    expect(res.status).toBe(409);
    const body = await json<RecoveryConflict>(res);
    expect(body.error.code).toBe('conflict');
    expect(body.reason).toBe('hard_reset_recovery_unacked');
    expect(body.backup_ref).toMatch(new RegExp(`^refs/conveyor/sync-recovery/${task.id}/\\d{19,}$`));
    // The uncommitted file was saved as a commit on top of the local one; both were discarded.
    expect(body.discarded_shas).toHaveLength(2);
    expect(body.discarded_shas).toContain(local);

    const decision = (await json<{ decision: DecisionRecord }>(await t.api('GET', `/decisions/${body.decision_id}`))).decision;
    expect(decision).toMatchObject({ taskId: task.id, contextKey: 'hard_reset_recovery:development', status: 'pending', options: [CONTINUE_AFTER_RESET, ABORT] });
    expect(decision.question).toContain(body.backup_ref);
    const pending = (await json<{ decisions: DecisionRecord[] }>(await t.api('GET', '/decisions?status=pending'))).decisions;
    expect(pending.map((d) => d.id)).toEqual([body.decision_id]);

    const pinned = await git(t.worktreeOf(task.id), 'rev-parse', body.backup_ref);
    expect(await backupRefs(task.id)).toEqual([`${body.backup_ref} ${pinned}`]);
    expect(body.discarded_shas).toContain(pinned);
    expect((await git(t.worktreeOf(task.id), 'show', `${body.backup_ref}:README.md`)).split('\n')[0]).toBe('local 1');
    expect(await git(t.worktreeOf(task.id), 'show', `${body.backup_ref}:wip-1.txt`)).toBe(wip.trim());
    expect(await git(t.worktreeOf(task.id), 'merge-base', '--is-ancestor', local, body.backup_ref)).toBe('');
    // The worktree itself now holds the remote's state.
    expect(await headOf(task.id)).toBe(remote);
    expect(await exists(join(t.worktreeOf(task.id), 'wip-1.txt'))).toBe(false);

    const view = t.conveyor.task(task.id)!;
    expect(view.state).toBe('recovery.awaitingAck');
    expect(view.tags).toContain('failed');
    expect(view.context.failure).toMatchObject({ stage: 'development', kind: 'hard_reset', backupRef: body.backup_ref, discardedShas: body.discarded_shas });
    recoveryDecision(view, 'development');
    const entry = resetEntry(task.id);
    // The operator asked; the task took the refresh in its own turn and its sync reported the reset.
    expect(t.conveyor.history(task.id).find((h) => h.event.type === 'stage.refresh')).toMatchObject({ source: 'operator', accepted: true, from: 'development.gating', to: 'development.refreshing' });
    expect(entry).toMatchObject({ source: 'runtime', from: 'development.refreshing', to: 'recovery.awaitingAck' });
    expect(emittedTypes(entry)).toEqual(expect.arrayContaining(['task.failed', 'decision.requested']));
    expect(t.conveyor.alerts()).toContainEqual(expect.objectContaining({ kind: 'task_failed', taskId: task.id, stage: 'development', backupRef: body.backup_ref }));

    // Nothing downstream ran: no job was queued for the stage, and a second refresh pins nothing more.
    expect(view.context.job).toBeNull();
    expect(t.conveyor.jobsOf(task.id).map((j) => j.id)).toEqual(jobsBefore);
    expect((await refresh(t, task.id, 'development')).status).toBe(409);
    expect(await backupRefs(task.id)).toHaveLength(1);
    expect(t.conveyor.task(task.id)?.state).toBe('recovery.awaitingAck');
  });

  it('answers 200 and changes nothing when the worktree is in sync', async () => {
    const task = await taskInDevelopment(t);
    const res = await refresh(t, task.id, 'development');
    expect(res.status).toBe(200);
    expect(await json<{ outcome: string }>(res)).toMatchObject({ outcome: 'in_sync' });
    expect(t.conveyor.task(task.id)?.state).toBe('development.gating');
    expect(pendingOf(t, task.id)).toEqual([]);
    expect(await backupRefs(task.id)).toEqual([]);
  });
});

describe('hard reset at a stage boundary', () => {
  it('waits in recovery with the failure and the decision and does not start the next stage\'s job', async () => {
    const { task, diverged } = await resetAtReviewBoundary();
    expect(task.context.failure).toMatchObject({ stage: 'review', kind: 'hard_reset' });
    expect(task.context.failure?.discardedShas).toContain(diverged.local);
    const decision = recoveryDecision(task, 'review');
    expect(decision.options).toEqual([CONTINUE_AFTER_RESET, ABORT]);
    const entry = resetEntry(task.id);
    expect(entry).toMatchObject({ source: 'runtime', from: 'review.preparing', to: 'recovery.awaitingAck' });
    expect(emittedTypes(entry)).toEqual(expect.arrayContaining(['task.failed', 'decision.requested']));
    expect(t.conveyor.jobsOf(task.id).filter((j) => j.stage === 'review')).toEqual([]);
    expect(await headOf(task.id)).toBe(diverged.remote);
    expect(await git(t.worktreeOf(task.id), 'show', `${task.context.failure!.backupRef}:wip-1.txt`)).toBe(diverged.wip.trim());
  });

  it('cancels the task and removes its worktree on Abort', async () => {
    const { task } = await resetAtReviewBoundary();
    const decision = recoveryDecision(task, 'review');
    const res = await resolve(decision.id, ABORT);
    expect(res.status).toBe(200);
    expect((await json<{ task: TaskView }>(res)).task.state).toBe('cancelled');
    expect(t.conveyor.decisions.get(decision.id)).toMatchObject({ status: 'resolved', resolution: ABORT, by: 'pat' });
    await waitFor('the worktree to be removed', async () => !(await exists(t.worktreeOf(task.id))));
    // The pinned work outlives the worktree.
    expect(await git(t.bare, 'for-each-ref', `refs/conveyor/sync-recovery/${task.id}/`)).not.toBe('');
  });
});

describe('leaving recovery without its answer', () => {
  it('withdraws the recovery decision when the task is cancelled while it waits', async () => {
    const task = await taskInDevelopment(t);
    await diverge(t, task.id, '1');
    const { decision_id } = await json<RecoveryConflict>(await refresh(t, task.id, 'development'));
    expect(t.conveyor.decisions.get(decision_id!)?.status).toBe('pending');
    expect((await t.api('POST', `/tasks/${task.id}/events`, { type: 'cancel', reason: 'not needed' })).status).toBe(200);
    expect(t.conveyor.task(task.id)?.state).toBe('cancelled');
    expect(t.conveyor.decisions.get(decision_id!)?.status).toBe('superseded');
    expect(pendingOf(t, task.id)).toEqual([]);
    expect((await resolve(decision_id!, ABORT)).status).toBe(409);
  });
});

describe('Continue after a hard reset', () => {
  it('restarts the stage from a clean slate in a new run epoch with a new job', async () => {
    const before = await taskInReviewAfterRetry();
    expect(before.context.retries).toBe(1);
    const reviewJobs = t.conveyor.jobsOf(before.id).filter((j) => j.stage === 'review').map((j) => j.id);
    await diverge(t, before.id, '1');
    const res = await refresh(t, before.id, 'review');
    expect(res.status).toBe(409);
    const { decision_id } = await json<RecoveryConflict>(res);
    const failed = t.conveyor.task(before.id)!;
    expect(failed.context).toMatchObject({ epoch: before.context.epoch, retries: 1, job: null });

    const resolved = await resolve(decision_id!, CONTINUE_AFTER_RESET);
    expect(resolved.status).toBe(200);
    expect(t.conveyor.decisions.get(decision_id!)).toMatchObject({ status: 'resolved', resolution: CONTINUE_AFTER_RESET, by: 'pat' });
    const after = await waitForState(t.conveyor, before.id, 'review.gating', 10_000);
    expect(after.context).toMatchObject({ epoch: before.context.epoch + 1, retries: 0, failure: null, decision: null, lastFailure: null, escalation: null });
    const newJobs = t.conveyor.jobsOf(before.id).filter((j) => j.stage === 'review' && !reviewJobs.includes(j.id));
    expect(newJobs).toHaveLength(1);
    expect(newJobs[0]).toMatchObject({ id: after.context.job?.id, attempt: 1, status: 'exited' });
    expect(pendingOf(t, before.id)).toEqual([]);
    const restart = t.conveyor.history(before.id).find((h) => h.event.type === 'decision.resolved' && h.from === 'recovery.awaitingAck');
    expect(restart).toMatchObject({ accepted: true, source: 'decision', to: 'review.preparing' });
  });

  it('gives two recoveries of one task distinct backup refs, each pinning its own work', async () => {
    const task = await taskInDevelopment(t);
    const first = await diverge(t, task.id, '1');
    const one = await json<RecoveryConflict>(await refresh(t, task.id, 'development'));
    expect(one.reason).toBe('hard_reset_recovery_unacked');
    expect((await resolve(one.decision_id!, CONTINUE_AFTER_RESET)).status).toBe(200);
    await waitForState(t.conveyor, task.id, (v) => v.state === 'development.gating' && v.context.epoch === 1, 10_000);

    const second = await diverge(t, task.id, '2');
    const two = await json<RecoveryConflict>(await refresh(t, task.id, 'development'));
    expect(two.reason).toBe('hard_reset_recovery_unacked');
    expect(two.backup_ref).not.toBe(one.backup_ref);
    expect(two.decision_id).not.toBe(one.decision_id);
    expect(two.discarded_shas).toContain(second.local);
    expect(two.discarded_shas).not.toContain(first.local);
    const refs = await backupRefs(task.id);
    expect(refs.map((r) => r.split(' ')[0])).toEqual([one.backup_ref, two.backup_ref].sort());
    expect(await git(t.worktreeOf(task.id), 'show', `${one.backup_ref}:wip-1.txt`)).toBe(first.wip.trim());
    expect(await git(t.worktreeOf(task.id), 'show', `${two.backup_ref}:wip-2.txt`)).toBe(second.wip.trim());
    expect((await git(t.worktreeOf(task.id), 'show', `${two.backup_ref}:README.md`)).split('\n')[0]).toBe('local 2');
    expect(t.conveyor.task(task.id)?.context.failure?.backupRef).toBe(two.backup_ref);
    expect(recoveryDecision(t.conveyor.task(task.id)!, 'development').id).toBe(two.decision_id);
  });
});

describe('reset failure', () => {
  it('answers 409 sync_rebase_and_reset_failed and offers only Abort while the worktree is still divergent', async () => {
    const task = await taskInDevelopment(t);
    const { local, remote } = await diverge(t, task.id, '1');
    const hook = await lockIndexOnRebase(task.id);
    const res = await refresh(t, task.id, 'development');
    expect(res.status).toBe(409);
    const body = await json<RecoveryConflict>(res);
    expect(body.reason).toBe('sync_rebase_and_reset_failed');
    expect(body.backup_ref).toMatch(new RegExp(`^refs/conveyor/sync-recovery/${task.id}/\\d+$`));
    expect(body.discarded_shas).toContain(local);
    // The reset did not happen: the local commit is still checked out.
    expect(await headOf(task.id)).not.toBe(remote);
    expect(await git(t.worktreeOf(task.id), 'merge-base', '--is-ancestor', local, 'HEAD')).toBe('');

    const view = t.conveyor.task(task.id)!;
    expect(view.state).toBe('recovery.stillDivergent');
    expect(view.context.failure).toMatchObject({ stage: 'development', kind: 'sync_failed', backupRef: body.backup_ref });
    const decision = recoveryDecision(view, 'development');
    expect(decision.id).toBe(body.decision_id);
    expect(decision.options).toEqual([ABORT]);
    expect(decision.question).toMatch(/still divergent/);
    expect(emittedTypes(resetEntry(task.id, 'stage.sync_failed'))).toEqual(expect.arrayContaining(['task.failed', 'decision.requested']));

    const refused = await resolve(decision.id, CONTINUE_AFTER_RESET);
    expect(refused.status).toBe(422);
    expect((await json<{ error: { message: string } }>(refused)).error.message).toContain(ABORT);
    expect(t.conveyor.decisions.get(decision.id)?.status).toBe('pending');
    expect(t.conveyor.task(task.id)?.state).toBe('recovery.stillDivergent');

    await hook.unlock();
    expect((await resolve(decision.id, ABORT)).status).toBe(200);
    expect(t.conveyor.task(task.id)?.state).toBe('cancelled');
  });
});

describe('atomic failure and decision', () => {
  it('never shows a reader the failed task without its pending decision', async () => {
    const task = await taskInDevelopment(t);
    await diverge(t, task.id, '1');
    const seen = { healthy: 0, failed: 0, violations: [] as string[] };
    let stop = false;
    const observe = async () => {
      // Task first, decisions second: a commit landing between the reads can only make the task look older.
      const view = (await json<{ task: TaskView }>(await t.api('GET', `/tasks/${task.id}`))).task;
      await new Promise((r) => setImmediate(r));
      const pending = (await json<{ decisions: DecisionRecord[] }>(await t.api('GET', '/decisions?status=pending'))).decisions;
      const failed = view.context.failure !== null || view.state.startsWith('recovery') || view.tags.includes('failed');
      if (!failed) {
        seen.healthy++;
        return;
      }
      const decision = pending.find((d) => d.taskId === task.id && d.contextKey === 'hard_reset_recovery:development');
      if (decision && decision.id === view.context.decision?.id) seen.failed++;
      else seen.violations.push(`${view.state} (${view.context.failure?.kind ?? 'no failure'}) with pending [${pending.map((d) => d.id).join(', ')}]`);
    };
    const poller = (async () => {
      while (!stop) {
        await observe();
        await new Promise((r) => setImmediate(r));
      }
    })();
    await waitFor('a first observation', () => seen.healthy > 0);
    const res = await refresh(t, task.id, 'development');
    expect(res.status).toBe(409);
    await waitFor('observations after the failure', () => seen.failed >= 3 || seen.violations.length > 0);
    stop = true;
    await poller;
    expect(seen.violations).toEqual([]);
    expect(seen.healthy).toBeGreaterThan(0);
    expect(seen.failed).toBeGreaterThanOrEqual(3);
  });
});
