import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TaskSummary, TaskView } from '../../actors/index.ts';
import { TASK_MACHINE_VERSION, defaultPipeline } from '../../machines/index.ts';
import type { HistoryEntry, TaskRecord } from '../../store/index.ts';
import { API_TOKEN, REPO, expectError, makeTestApp, waitForState, type TestApp } from '../support/http-fixtures.ts';

const STAGES = defaultPipeline.stages.map((s) => s.id);

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

/** Creates a task through the API and waits for it to rest at the analysis gate. */
async function createTask(title = 'Add search', repo = REPO): Promise<TaskView> {
  const res = await t.api('POST', '/tasks', { repo, title });
  expect(res.status).toBe(201);
  const { task } = await json<{ task: TaskView }>(res);
  return waitForState(t.conveyor, task.id, 'analysis.gating');
}

async function operator(id: string, body: unknown): Promise<Response> {
  return t.api('POST', `/tasks/${id}/events`, body);
}

async function historyOf(id: string): Promise<HistoryEntry[]> {
  return (await json<{ history: HistoryEntry[] }>(await t.api('GET', `/tasks/${id}/history`))).history;
}

describe('bearer auth', () => {
  it('refuses /api without a token with 401', async () => {
    await expectError(await t.api('GET', '/tasks', undefined, ''), 401, 'unauthorized');
  });

  it('refuses a wrong token, a token of another length and another scheme with 401', async () => {
    await expectError(await t.api('GET', '/tasks', undefined, 'x'.repeat(API_TOKEN.length)), 401, 'unauthorized');
    await expectError(await t.api('GET', '/status', undefined, `${API_TOKEN}extra`), 401, 'unauthorized');
    const basic = await t.app.request('/api/tasks', { headers: { authorization: `Basic ${API_TOKEN}` } });
    await expectError(basic, 401, 'unauthorized');
  });

  it('accepts the right token', async () => {
    const res = await t.api('GET', '/tasks');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ tasks: [], next: null });
  });

  it('serves /health without a token', async () => {
    const res = await t.app.request('/health');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });

  it('does not create a task for a caller without the token', async () => {
    await expectError(await t.api('POST', '/tasks', { repo: REPO, title: 'sneaky' }, ''), 401, 'unauthorized');
    expect(t.conveyor.tasks()).toHaveLength(0);
  });
});

describe('POST /api/tasks', () => {
  it('creates a task with 201 and answers with its view', async () => {
    const res = await t.api('POST', '/tasks', { repo: REPO, title: 'Add search' });
    expect(res.status).toBe(201);
    const body = await json<{ created: boolean; task: TaskView }>(res);
    expect(body.created).toBe(true);
    expect(body.task).toMatchObject({ repo: REPO, title: 'Add search', stage: 'analysis', branch: `conveyor/${body.task.id}` });
    await waitForState(t.conveyor, body.task.id, 'analysis.gating');
  });

  it('answers 200 with the existing task for a tracker issue that already has one', async () => {
    const first = await json<{ task: TaskView }>(await t.api('POST', '/tasks', { repo: REPO, title: 'A', trackerIssueId: 'ISS-1' }));
    const again = await t.api('POST', '/tasks', { repo: REPO, title: 'A', trackerIssueId: 'ISS-1' });
    expect(again.status).toBe(200);
    expect(await json<{ created: boolean; task: TaskView }>(again)).toMatchObject({ created: false, task: { id: first.task.id } });
    expect(t.conveyor.tasks()).toHaveLength(1);
  });

  const invalid: Array<[name: string, body: unknown, status: number, code: string, field?: string]> = [
    ['a body without repo', { title: 'Add search' }, 422, 'invalid_payload', 'repo'],
    ['an empty title', { repo: REPO, title: '' }, 422, 'invalid_payload', 'title'],
    ['a key the API does not know', { repo: REPO, title: 'Add search', colour: 'red' }, 422, 'invalid_payload', 'colour'],
    ['a branch that is not a git branch name', { repo: REPO, title: 'Add search', branch: 'a b' }, 422, 'invalid_payload', 'branch'],
    ['a repo that is not a string', { repo: 7, title: 'Add search' }, 422, 'invalid_payload', 'repo'],
    ['a body that is not JSON', '{"repo":', 400, 'bad_json'],
  ];
  it.each(invalid)('refuses %s and creates nothing', async (_name, body, status, code, field) => {
    await expectError(await t.api('POST', '/tasks', body), status, code, field);
    expect(t.conveyor.tasks()).toHaveLength(0);
    expect(t.store.stats().seq).toBe(0);
  });
});

describe('GET /api/tasks', () => {
  it('filters by stage and by repo', async () => {
    const a = await createTask('first');
    const b = await createTask('second');
    const c = await createTask('third', 'acme/other');
    expect((await operator(a.id, { type: 'approve' })).status).toBe(200);
    await waitForState(t.conveyor, a.id, 'development.gating');

    const ids = async (query: string) =>
      (await json<{ tasks: TaskSummary[] }>(await t.api('GET', `/tasks${query}`))).tasks.map((s) => s.id).sort();
    expect(await ids('?stage=analysis')).toEqual([b.id, c.id].sort());
    expect(await ids('?stage=development')).toEqual([a.id]);
    expect(await ids(`?repo=${encodeURIComponent(REPO)}`)).toEqual([a.id, b.id].sort());
    expect(await ids(`?stage=analysis&repo=${encodeURIComponent(REPO)}`)).toEqual([b.id]);
    expect(await ids('?stage=review')).toEqual([]);
  });
});

describe('GET /api/tasks/:id', () => {
  it('shows the state, its tags and the context', async () => {
    const { id } = await createTask();
    const res = await t.api('GET', `/tasks/${id}`);
    expect(res.status).toBe(200);
    const { task } = await json<{ task: TaskView }>(res);
    expect(task).toMatchObject({ id, state: 'analysis.gating', stage: 'analysis', status: 'active', machine: { id: 'task', version: TASK_MACHINE_VERSION } });
    expect(task.tags).toEqual(['gating', 'human-gate']);
    expect(task.context).toMatchObject({ id, repo: REPO, branch: `conveyor/${id}`, approval: null, retries: 0, head: null, hold: null });
    expect(task.context.limits.maxRetries).toBe(defaultPipeline.maxRetries);
  });

  it('shows the decisions the task waits on, its jobs and its effects alongside it', async () => {
    const { id } = await createTask();
    const body = await json<{ decisions: { contextKey: string; options: string[] }[]; jobs: { stage: string }[]; effects: unknown[]; waitingOn: string[] }>(
      await t.api('GET', `/tasks/${id}`),
    );
    expect(body.decisions).toEqual([expect.objectContaining({ contextKey: 'analysis_approval', options: ['Approve', 'Reject'] })]);
    expect(body.effects).toEqual([]);
    expect(body.waitingOn).toEqual([]);
  });

  it('answers 404 with the error shape for an unknown task on every task route', async () => {
    const calls: Array<[string, string, unknown?]> = [
      ['GET', '/tasks/nope'], ['GET', '/tasks/nope/history'], ['GET', '/tasks/nope/snapshot'], ['POST', '/tasks/nope/events', { type: 'hold' }],
    ];
    for (const [method, path, body] of calls) {
      const error = await expectError(await t.api(method, path, body), 404, 'not_found', 'id');
      expect(error.message).toContain('nope');
    }
  });

  it('answers 404 with the error shape for a route that does not exist', async () => {
    await expectError(await t.api('GET', '/nothing-here'), 404, 'not_found');
  });

  it('returns the raw persisted record as its snapshot, with machine id and version', async () => {
    const { id, rev } = await createTask();
    const res = await t.api('GET', `/tasks/${id}/snapshot`);
    expect(res.status).toBe(200);
    const record = await json<TaskRecord>(res);
    expect(record).toMatchObject({ id, machineId: 'task', version: TASK_MACHINE_VERSION, rev, meta: { repo: REPO, branch: `conveyor/${id}` } });
    const snapshot = record.snapshot as { status: string; value: unknown; context: { id: string } };
    expect(snapshot.status).toBe('active');
    expect(snapshot.value).toEqual({ active: { analysis: 'gating' } });
    expect(snapshot.context.id).toBe(id);
    expect(record).toEqual(JSON.parse(JSON.stringify(t.store.getTask(id))));
  });
});

describe('POST /api/tasks/:id/events', () => {
  it('approve moves a task from the analysis gate to development, recorded as an operator event', async () => {
    const { id } = await createTask();
    const res = await operator(id, { type: 'approve', by: 'pat' });
    expect(res.status).toBe(200);
    expect(await json<{ outcome: unknown }>(res)).toMatchObject({ outcome: { status: 'accepted', from: 'analysis.gating' } });
    await waitForState(t.conveyor, id, 'development.gating');
    const approved = (await historyOf(id)).find((h) => h.event.type === 'analysis.approved');
    expect(approved).toMatchObject({ source: 'operator', accepted: true, event: { by: 'pat' } });
  });

  it('hold parks a task and resume returns it to the state it was in', async () => {
    const { id } = await createTask();
    expect((await operator(id, { type: 'hold', reason: 'waiting for legal' })).status).toBe(200);
    const held = await json<{ task: TaskView }>(await t.api('GET', `/tasks/${id}`));
    expect(held.task).toMatchObject({ state: 'onHold', stage: 'onHold', context: { hold: { reason: 'waiting for legal' } } });
    expect(held.task.tags).toContain('on-hold');

    const resumed = await operator(id, { type: 'resume' });
    expect(resumed.status).toBe(200);
    expect((await json<{ task: TaskView }>(resumed)).task.state).toBe('analysis.gating');
  });

  it('cancel ends the task, after which an approval answers 409 and is recorded as ignored', async () => {
    const { id } = await createTask();
    const cancelled = await operator(id, { type: 'cancel', reason: 'duplicate of another task' });
    expect(cancelled.status).toBe(200);
    const view = (await json<{ task: TaskView }>(cancelled)).task;
    expect(view).toMatchObject({ state: 'cancelled', status: 'done' });
    expect(view.tags).toContain('terminal');

    const before = (await historyOf(id)).length;
    const error = await expectError(await operator(id, { type: 'approve' }), 409, 'conflict', 'type');
    expect(error.message).toContain('cancelled');
    const history = await historyOf(id);
    expect(history).toHaveLength(before + 1);
    expect(history.at(-1)).toMatchObject({ source: 'operator', accepted: false, reason: error.message, event: { type: 'analysis.approved' } });
  });

  it('answers 409 with the reason to an event not allowed in the current state, records it as ignored and changes nothing', async () => {
    const { id, rev } = await createTask();
    const error = await expectError(await operator(id, { type: 'resume' }), 409, 'conflict', 'type');
    expect(error.message).toBe('task.resume is not accepted in analysis.gating');
    expect((await historyOf(id)).at(-1)).toMatchObject({ accepted: false, reason: error.message, from: 'analysis.gating', to: 'analysis.gating' });
    const after = await json<{ task: TaskView }>(await t.api('GET', `/tasks/${id}`));
    expect(after.task).toMatchObject({ state: 'analysis.gating', rev });
  });

  it('refuses an event type the API does not offer, such as the runtime\'s own stage.prepared, and records nothing', async () => {
    const { id } = await createTask();
    const before = await historyOf(id);
    await expectError(await operator(id, { type: 'stage.prepared' }), 422, 'invalid_payload', 'type');
    await expectError(await operator(id, { type: 'hold', extra: true }), 422, 'invalid_payload', 'extra');
    await expectError(await operator(id, '{"type":'), 400, 'bad_json');
    expect(await historyOf(id)).toEqual(before);
  });
});

describe('GET /api/status', () => {
  it('counts tasks in total and by stage', async () => {
    const a = await createTask();
    await createTask();
    await operator(a.id, { type: 'hold' });
    const res = await t.api('GET', '/status');
    expect(res.status).toBe(200);
    const status = await json<{ tasks: { total: number; byStage: Record<string, number> }; machine: unknown }>(res);
    expect(status.tasks).toMatchObject({ total: 2, byStage: { analysis: 1, onHold: 1 } });
    expect(status.machine).toEqual({ id: 'task', version: TASK_MACHINE_VERSION });
  });
});

describe('GET /api/machines', () => {
  it('lists every machine conveyor runs with its version', async () => {
    const res = await t.api('GET', '/machines');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      machines: [
        { id: 'task', version: TASK_MACHINE_VERSION },
        { id: 'supervisor', version: 1 },
        { id: 'sweepLoop', version: 1 },
      ],
    });
    const supervisor = await t.api('GET', '/machines/supervisor?format=stately');
    expect(supervisor.status).toBe(200);
    expect(await supervisor.text()).toContain("import { createMachine } from 'xstate'");
  });

  it('returns the task machine config as JSON with every stage', async () => {
    const res = await t.api('GET', '/machines/task');
    expect(res.status).toBe(200);
    const body = await json<{ id: string; version: number; config: { id: string; states: { active: { states: Record<string, unknown> } } } }>(res);
    expect(body).toMatchObject({ id: 'task', version: TASK_MACHINE_VERSION, config: { id: 'task' } });
    expect(Object.keys(body.config.states.active.states)).toEqual(expect.arrayContaining(STAGES));
  });

  it('exports Stately source whose createMachine argument is JSON naming every stage', async () => {
    const res = await t.api('GET', '/machines/task?format=stately');
    expect(res.status).toBe(200);
    const source = await res.text();
    expect(source.startsWith(`import { createMachine } from 'xstate'`)).toBe(true);
    const open = source.indexOf('createMachine(', source.indexOf('export')) + 'createMachine('.length;
    const config = JSON.parse(source.slice(open, source.lastIndexOf(')'))) as { id: string; states: Record<string, { states?: Record<string, unknown> }> };
    expect(config.id).toBe('task');
    expect(Object.keys(config.states)).toEqual(expect.arrayContaining(['active', 'onHold', 'escalated', 'done', 'cancelled']));
    expect(Object.keys(config.states.active?.states ?? {})).toEqual(expect.arrayContaining(STAGES));
  });

  // Fails today: xstate's and() guards are functions, which the export drops, so guarded transitions look unguarded.
  it('keeps a guard on every transition the machine guards, in the Stately export', async () => {
    const source = await (await t.api('GET', '/machines/task?format=stately')).text();
    const open = source.indexOf('createMachine(', source.indexOf('export')) + 'createMachine('.length;
    const config = JSON.parse(source.slice(open, source.lastIndexOf(')'))) as Record<string, unknown>;
    // In a list of candidate transitions only the last may go unguarded; an earlier one would shadow the rest.
    const shadowing: string[] = [];
    const walk = (node: Record<string, unknown>, path: string) => {
      const lists = { ...(node.on as Record<string, unknown> | undefined), always: node.always };
      for (const [event, list] of Object.entries(lists)) {
        if (!Array.isArray(list)) continue;
        list.slice(0, -1).forEach((tr: { guard?: unknown }, i) => {
          if (tr.guard === undefined) shadowing.push(`${path} ${event}[${i}]`);
        });
      }
      for (const [key, child] of Object.entries((node.states as Record<string, Record<string, unknown>> | undefined) ?? {})) walk(child, `${path}.${key}`);
    };
    walk(config, 'task');
    expect(shadowing).toEqual([]);
  });

  it('refuses an unknown format with 422 naming the field, and an unknown machine with 404', async () => {
    await expectError(await t.api('GET', '/machines/task?format=svg'), 422, 'invalid_payload', 'format');
    await expectError(await t.api('GET', '/machines/nope'), 404, 'not_found', 'id');
  });
});
