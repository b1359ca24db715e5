import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DecisionRecord, TaskView } from '../../actors/index.ts';
import type { HistoryEntry } from '../../store/index.ts';
import { isolateGitConfig } from '../git/fixtures.ts';
import { expectError, planeDelivery, planeIssue, waitForState } from '../support/http-fixtures.ts';
import { createTask, json, makeGitApp, pendingOf, type GitApp } from './git-app.ts';

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

const resolve = (id: string, body: unknown) => t.api('POST', `/decisions/${id}/resolve`, body);
const getDecision = async (id: string) => (await json<{ decision: DecisionRecord }>(await t.api('GET', `/decisions/${id}`))).decision;
const pendingViaApi = async () => (await json<{ decisions: DecisionRecord[] }>(await t.api('GET', '/decisions?status=pending'))).decisions;
const lastEntry = (taskId: string): HistoryEntry | undefined => t.conveyor.history(taskId).at(-1);

/** The one pending analysis decision of a task, checked for its shape. */
async function analysisDecision(taskId: string): Promise<DecisionRecord> {
  const mine = (await pendingViaApi()).filter((d) => d.taskId === taskId);
  expect(mine).toHaveLength(1);
  const decision = mine[0]!;
  expect(decision).toMatchObject({ taskId, contextKey: 'analysis_approval', options: ['Approve', 'Reject'], status: 'pending' });
  expect(decision.question.length).toBeGreaterThan(0);
  return decision;
}

describe('analysis approval as a decision', () => {
  it('opens one pending analysis_approval decision when a task reaches the analysis gate', async () => {
    const task = await createTask(t);
    const decision = await analysisDecision(task.id);
    expect(task.context.decision?.id).toBe(decision.id);
    expect(await getDecision(decision.id)).toEqual(decision);
  });

  it('moves the task to development when the decision is resolved with Approve, recording who and when', async () => {
    const task = await createTask(t);
    const decision = await analysisDecision(task.id);
    const res = await resolve(decision.id, { option: 'Approve', by: 'pat' });
    expect(res.status).toBe(200);
    const body = await json<{ decision: DecisionRecord; task: TaskView }>(res);
    expect(body.task.stage).toBe('development');
    const stored = await getDecision(decision.id);
    expect(stored).toMatchObject({ status: 'resolved', resolution: 'Approve', by: 'pat' });
    expect(stored.resolvedAt).toBeGreaterThanOrEqual(stored.openedAt);
    expect(pendingOf(t, task.id)).toEqual([]);
    await waitForState(t.conveyor, task.id, 'development.gating', 10_000);
    const answered = t.conveyor.history(task.id).find((h) => h.event.type === 'decision.resolved');
    expect(answered).toMatchObject({ accepted: true, source: 'decision', from: 'analysis.gating', to: 'development.preparing' });
  });

  it('records a later tracker approval after the decision approved as ignored and redundant', async () => {
    const task = await createTask(t, { trackerIssueId: 'ISS-7' });
    const decision = await analysisDecision(task.id);
    expect((await resolve(decision.id, { option: 'Approve', by: 'pat' })).status).toBe(200);
    const res = await t.deliver(planeDelivery(planeIssue('ISS-7', 'state-approved')));
    expect(res.status).toBe(200);
    expect(await json<{ outcome: { status: string } }>(res)).toMatchObject({ outcome: { status: 'ignored' } });
    const entry = t.conveyor.history(task.id).find((h) => h.event.type === 'analysis.approved');
    expect(entry).toMatchObject({ accepted: false, source: 'webhook' });
    expect(entry?.reason).toMatch(/^redundant/);
    expect((await getDecision(decision.id)).status).toBe('resolved');
    await waitForState(t.conveyor, task.id, 'development.gating', 10_000);
  });

  it('withdraws the decision as superseded when the tracker approves first, and answers a later resolve with 409', async () => {
    const task = await createTask(t, { trackerIssueId: 'ISS-8' });
    const decision = await analysisDecision(task.id);
    const res = await t.deliver(planeDelivery(planeIssue('ISS-8', 'state-approved')));
    expect(res.status).toBe(200);
    expect(t.conveyor.task(task.id)?.stage).toBe('development');
    const stored = await getDecision(decision.id);
    expect(stored.status).toBe('superseded');
    expect(stored.resolution).toBeUndefined();
    expect(pendingOf(t, task.id)).toEqual([]);
    const late = await expectError(await resolve(decision.id, { option: 'Approve', by: 'pat' }), 409, 'conflict');
    expect(late.message).toContain('superseded');
    expect((await getDecision(decision.id)).status).toBe('superseded');
    await waitForState(t.conveyor, task.id, 'development.gating', 10_000);
  });

  it('withdraws the decision as superseded when an operator approves first', async () => {
    const task = await createTask(t);
    const decision = await analysisDecision(task.id);
    expect((await t.api('POST', `/tasks/${task.id}/events`, { type: 'approve', by: 'ops' })).status).toBe(200);
    expect((await getDecision(decision.id)).status).toBe('superseded');
    await expectError(await resolve(decision.id, { option: 'Reject' }), 409, 'conflict');
    expect(t.conveyor.task(task.id)?.stage).toBe('development');
    await waitForState(t.conveyor, task.id, 'development.gating', 10_000);
  });

  it('re-runs analysis on Reject and opens a fresh decision', async () => {
    const task = await createTask(t);
    const first = await analysisDecision(task.id);
    const jobsBefore = t.conveyor.jobsOf(task.id).filter((j) => j.stage === 'analysis').length;
    expect((await resolve(first.id, { option: 'Reject', by: 'pat' })).status).toBe(200);
    expect(await getDecision(first.id)).toMatchObject({ status: 'resolved', resolution: 'Reject', by: 'pat' });
    const view = await waitForState(t.conveyor, task.id, (v) => v.state === 'analysis.gating' && v.context.decision !== null && v.context.decision.id !== first.id, 10_000);
    expect(view.context.approval).toBeNull();
    const second = await analysisDecision(task.id);
    expect(second.id).not.toBe(first.id);
    expect(view.context.decision?.id).toBe(second.id);
    expect(t.conveyor.jobsOf(task.id).filter((j) => j.stage === 'analysis').length).toBe(jobsBefore + 1);
  });
});

describe('resolving decisions', () => {
  it('refuses an option not in the list with 422 naming the valid options, raises an alert and leaves the decision pending', async () => {
    const task = await createTask(t);
    const decision = await analysisDecision(task.id);
    const res = await resolve(decision.id, { option: 'Maybe', by: 'pat' });
    expect(res.status).toBe(422);
    const body = await json<{ error: { code: string; message: string; field?: string }; options?: string[] }>(res);
    expect(body.error).toMatchObject({ code: 'not_allowed', field: 'option' });
    expect(body.error.message).toContain('Approve');
    expect(body.error.message).toContain('Reject');
    expect(body.options).toEqual(['Approve', 'Reject']);
    expect(t.conveyor.alerts()).toContainEqual(expect.objectContaining({ kind: 'invalid_decision_option', decisionId: decision.id, taskId: task.id, option: 'Maybe', by: 'pat' }));
    expect(await getDecision(decision.id)).toEqual(decision);
    expect(t.conveyor.task(task.id)?.state).toBe('analysis.gating');
    expect(lastEntry(task.id)?.event.type).not.toBe('decision.resolved');
  });

  it('answers a second resolve with 409 and keeps the first answer', async () => {
    const task = await createTask(t);
    const decision = await analysisDecision(task.id);
    expect((await resolve(decision.id, { option: 'Approve', by: 'pat' })).status).toBe(200);
    const again = await expectError(await resolve(decision.id, { option: 'Reject', by: 'sam' }), 409, 'conflict');
    expect(again.message).toContain('already resolved');
    expect(await getDecision(decision.id)).toMatchObject({ status: 'resolved', resolution: 'Approve', by: 'pat' });
    expect(t.conveyor.task(task.id)?.stage).toBe('development');
    await waitForState(t.conveyor, task.id, 'development.gating', 10_000);
  });

  it('answers 404 for a decision that does not exist and 422 for a body without an option', async () => {
    await expectError(await resolve('nope.d1', { option: 'Approve' }), 404, 'not_found', 'id');
    const task = await createTask(t);
    const decision = await analysisDecision(task.id);
    const res = await resolve(decision.id, { by: 'pat' });
    expect(res.status).toBe(422);
    expect((await getDecision(decision.id)).status).toBe('pending');
  });
});
