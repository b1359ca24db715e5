import { rm } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Conveyor, alertView, type Alert, type DecisionRecord, type TaskView } from '../../actors/index.ts';
import { EmbeddedStore } from '../../store/index.ts';
import { REPO, expectError, makeTestApp, waitForState, type TestApp } from '../support/http-fixtures.ts';

let t: TestApp;
beforeEach(async () => {
  t = await makeTestApp();
});
afterEach(async () => {
  await t.close();
});

async function json<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

/** A task at the analysis gate, answered with an option its decision does not offer: one real alert. */
async function badAnswer(title: string): Promise<{ task: TaskView; decision: DecisionRecord }> {
  const created = await json<{ task: TaskView }>(await t.api('POST', '/tasks', { repo: REPO, title }));
  const task = await waitForState(t.conveyor, created.task.id, (v) => v.state === 'analysis.gating' && v.context.decision !== null);
  const decision = t.conveyor.decisions.list('pending').find((d) => d.taskId === task.id)!;
  expect((await t.api('POST', `/decisions/${decision.id}/resolve`, { option: 'Maybe', by: 'pat' })).status).toBe(422);
  return { task, decision };
}

const listAlerts = async (query = '') => json<{ alerts: Alert[]; next: string | null }>(await t.api('GET', `/alerts${query}`));

describe('GET /api/alerts', () => {
  it('lists a raised alert naming its task, kind, message and suggested action', async () => {
    const { task, decision } = await badAnswer('Add search');
    const { alerts, next } = await listAlerts();
    expect(next).toBeNull();
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ kind: 'invalid_decision_option', taskId: task.id, status: 'open', acknowledged: null, details: { decisionId: decision.id, option: 'Maybe', by: 'pat' } });
    expect(alerts[0]!.message).toContain(decision.id);
    expect(alerts[0]!.message).toContain('Maybe');
    expect(alerts[0]!.suggestedAction).toContain(`/api/decisions/${decision.id}`);
  });

  it('filters by task, kind and status, newest first', async () => {
    const first = await badAnswer('one');
    const second = await badAnswer('two');
    expect((await listAlerts()).alerts.map((a) => a.taskId)).toEqual([second.task.id, first.task.id]);
    expect((await listAlerts(`?task=${first.task.id}`)).alerts.map((a) => a.taskId)).toEqual([first.task.id]);
    expect((await listAlerts('?kind=invalid_decision_option')).alerts).toHaveLength(2);
    expect((await listAlerts('?kind=task_failed')).alerts).toHaveLength(0);
    const [newest] = (await listAlerts()).alerts;
    expect((await t.api('POST', `/alerts/${encodeURIComponent(newest!.id)}/ack`, {})).status).toBe(200);
    expect((await listAlerts('?status=open')).alerts.map((a) => a.taskId)).toEqual([first.task.id]);
    expect((await listAlerts('?status=acknowledged')).alerts.map((a) => a.taskId)).toEqual([second.task.id]);
  });

  it('pages with a cursor and a limit without repeating or skipping an alert', async () => {
    for (const title of ['a', 'b', 'c']) await badAnswer(title);
    const all = (await listAlerts()).alerts.map((a) => a.id);
    const first = await listAlerts('?limit=2');
    expect(first.alerts.map((a) => a.id)).toEqual(all.slice(0, 2));
    expect(first.next).toEqual(expect.any(String));
    const rest = await listAlerts(`?limit=2&cursor=${first.next}`);
    expect(rest.alerts.map((a) => a.id)).toEqual(all.slice(2));
    expect(rest.next).toBeNull();
  });

  it('refuses a bad status, limit or cursor with 422 naming the field', async () => {
    await expectError(await t.api('GET', '/alerts?status=closed'), 422, 'invalid_payload', 'status');
    await expectError(await t.api('GET', '/alerts?limit=0'), 422, 'invalid_payload', 'limit');
    await expectError(await t.api('GET', '/alerts?limit=many'), 422, 'invalid_payload', 'limit');
    await expectError(await t.api('GET', '/alerts?cursor=not-a-cursor'), 422, 'invalid_payload', 'cursor');
  });
});

describe('POST /api/alerts/:id/ack', () => {
  it('acknowledges an alert once, durably, and refuses a second acknowledgement with 409', async () => {
    await badAnswer('Add search');
    const [alert] = (await listAlerts()).alerts;
    const path = `/alerts/${encodeURIComponent(alert!.id)}/ack`;
    const res = await t.api('POST', path, { by: 'pat', note: 'answered it' });
    expect(res.status).toBe(200);
    expect((await json<{ alert: Alert }>(res)).alert).toMatchObject({ id: alert!.id, status: 'acknowledged', acknowledged: { by: 'pat', note: 'answered it' } });
    const again = await expectError(await t.api('POST', path, { by: 'sam' }), 409, 'conflict', 'id');
    expect(again.message).toContain('pat');

    // The acknowledgement survives a restart of conveyor.
    await t.conveyor.stop();
    const reopened = new Conveyor({ store: new EmbeddedStore({ dir: t.dir }) });
    await reopened.start();
    expect(reopened.alertBoard.get(alert!.id)).toMatchObject({ status: 'acknowledged', acknowledged: { by: 'pat' } });
    await reopened.stop();
    await rm(t.dir, { recursive: true, force: true });
    t = await makeTestApp();
  });

  it('answers 404 for an unknown alert and 422 for a bad body, changing nothing', async () => {
    await badAnswer('Add search');
    const [alert] = (await listAlerts()).alerts;
    await expectError(await t.api('POST', '/alerts/nope/ack', {}), 404, 'not_found', 'id');
    await expectError(await t.api('POST', `/alerts/${encodeURIComponent(alert!.id)}/ack`, { by: 'pat', extra: 1 }), 422, 'invalid_payload', 'extra');
    expect((await listAlerts('?status=open')).alerts).toHaveLength(1);
  });
});

describe('alert wording', () => {
  const cases: [string, Record<string, unknown>, string | null, RegExp, RegExp][] = [
    ['task_failed', { taskId: 't1', stage: 'development', reason: 'worktree diverged', backupRef: 'refs/conveyor/x' }, 't1', /t1 failed in stage development: worktree diverged/, /pending decision.*refs\/conveyor\/x/],
    ['dependency_cycle', { cycle: ['t2', 't3', 't2'] }, 't2', /t2 → t3 → t2/, /without the cycle/],
    ['effect_unknown', { taskId: 't4', effect: 'merge', key: 'k', reason: 'forge unreachable' }, 't4', /merge of task t4.*forge unreachable/, /whether the merge happened/],
    ['unrouted_event', { reason: 'names 2 tasks' }, null, /not applied: names 2 tasks/, /configuration/],
    ['supervisor_degraded', { restarts: 5, windowMs: 60000, maxRestarts: 3 }, null, /restarted 5 times within 60000 ms \(limit 3\)/, /background/],
    ['something_new', { taskId: 't5', reason: 'odd' }, 't5', /something_new: odd/, /details/],
  ];
  it.each(cases)('words a %s alert with its task, a message and an action', (kind, fields, taskId, message, action) => {
    const alert = alertView('id-1', { kind, at: 1, ...fields });
    expect(alert.taskId).toBe(taskId);
    expect(alert.message).toMatch(message);
    expect(alert.suggestedAction).toMatch(action);
    expect(alert.status).toBe('open');
  });

  it('keeps a raiser\'s own message and action', () => {
    expect(alertView('x', { kind: 'k', at: 1, message: 'own', suggestedAction: 'do this' })).toMatchObject({ message: 'own', suggestedAction: 'do this' });
  });
});
