import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GuardCheck, TaskView } from '../../actors/index.ts';
import type { HistoryEntry } from '../../store/index.ts';
import { REPO, expectError, makeTestApp, waitForState, type TestApp } from '../support/http-fixtures.ts';

let t: TestApp;
beforeEach(async () => {
  t = await makeTestApp();
});
afterEach(async () => {
  await t.close();
});

const json = async <T>(res: Response): Promise<T> => (await res.json()) as T;

type At = { taskId: string; n: number; of: number; entry: HistoryEntry; state: string; status: string; snapshot: { value: unknown; context: Record<string, unknown> }; guards: GuardCheck[] };
type Step = { n: number; event: { type: string }; accepted: boolean; from: string; to: string; moved: boolean; guards: GuardCheck[] };

/** A task taken to the analysis gate, held, resumed, refused a resume, then approved into development. */
async function travelledTask(): Promise<TaskView> {
  const created = await json<{ task: TaskView }>(await t.api('POST', '/tasks', { repo: REPO, title: 'Add search' }));
  const id = created.task.id;
  await waitForState(t.conveyor, id, 'analysis.gating');
  for (const body of [{ type: 'hold', reason: 'legal' }, { type: 'resume' }]) expect((await t.api('POST', `/tasks/${id}/events`, body)).status).toBe(200);
  expect((await t.api('POST', `/tasks/${id}/events`, { type: 'resume' })).status).toBe(409);
  expect((await t.api('POST', `/tasks/${id}/events`, { type: 'approve' })).status).toBe(200);
  return waitForState(t.conveyor, id, 'development.gating');
}

describe('time travel', () => {
  it('shows the task after every entry of its history: the state that entry led to, and the live one at the end', async () => {
    const task = await travelledTask();
    const history = (await json<{ history: HistoryEntry[] }>(await t.api('GET', `/tasks/${task.id}/history`))).history;
    for (const [i, entry] of history.entries()) {
      const res = await t.api('GET', `/tasks/${task.id}/at/${i + 1}`);
      expect(res.status).toBe(200);
      const at = await json<At>(res);
      expect(at, `entry ${i + 1} (${entry.event.type})`).toMatchObject({ taskId: task.id, n: i + 1, of: history.length, entry, state: entry.accepted ? entry.to : entry.from, status: 'active' });
    }
    const last = await json<At>(await t.api('GET', `/tasks/${task.id}/at/${history.length}`));
    expect(last.snapshot).toEqual(t.conveyor.record(task.id)!.snapshot);
    const held = history.findIndex((e) => e.event.type === 'task.hold') + 1;
    expect(await json<At>(await t.api('GET', `/tasks/${task.id}/at/${held}`))).toMatchObject({ state: 'onHold', snapshot: { context: { hold: { reason: 'legal' } } } });
  });

  it('names the guards that decided a step, with their answers', async () => {
    const task = await travelledTask();
    const history = t.conveyor.history(task.id);
    const approved = history.findIndex((e) => e.event.type === 'analysis.approved') + 1;
    const at = await json<At>(await t.api('GET', `/tasks/${task.id}/at/${approved}`));
    expect(at.state).toMatch(/^development\./);
    expect(at.guards).toContainEqual({ guard: 'gateGreen', params: { gate: 'approval' }, passed: true });
    const exited = history.findIndex((e) => e.event.type === 'job.exited') + 1;
    const job = await json<At>(await t.api('GET', `/tasks/${task.id}/at/${exited}`));
    // It was this run's exit, it asked nothing, and it exited cleanly.
    expect(job.guards[0]).toEqual({ guard: 'currentJob', passed: true });
    expect(job.guards).toContainEqual({ guard: 'asksQuestion', passed: false });
    expect(job.guards).toContainEqual({ guard: 'exitedCleanly', passed: true });
    // The gate it reached was not green yet: the chart asked, and stayed.
    expect(job.guards).toContainEqual({ guard: 'gateGreen', params: { gate: 'approval' }, passed: false });
  });

  it('draws the chart as it stood at a step, that state highlighted', async () => {
    const task = await travelledTask();
    const res = await t.api('GET', `/tasks/${task.id}/at/1/chart.svg`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('image/svg+xml');
    const first = await res.text();
    expect(first).toContain(`step 1 of ${t.conveyor.history(task.id).length}: task.created → analysis.preparing`);
    expect(first).toMatch(/class="cv-state cv-active cv-active-leaf" data-id="task\.active\.analysis\.preparing"/);
    const n = t.conveyor.history(task.id).length;
    const last = await (await t.api('GET', `/tasks/${task.id}/at/${n}/chart.svg`)).text();
    expect(last).not.toMatch(/cv-active-leaf" data-id="task\.active\.analysis\.preparing"/);
    expect(last).toMatch(/cv-active-leaf" data-id="task\.active\.development\.gating"/);
  });

  it('replays every step with from, to, whether it moved, and its guards; `to` stops there, in pages', async () => {
    const task = await travelledTask();
    const history = t.conveyor.history(task.id);
    const { steps, next } = await json<{ steps: Step[]; next: string | null }>(await t.api('GET', `/tasks/${task.id}/replay`));
    expect(next).toBeNull();
    expect(steps.map((s) => s.event.type)).toEqual(history.map((e) => e.event.type));
    const refused = steps.find((s) => s.event.type === 'task.resume' && !s.accepted)!;
    expect(refused).toMatchObject({ moved: false, from: 'analysis.gating', to: 'analysis.gating', guards: [] });
    expect(steps[0]).toMatchObject({ n: 1, moved: true, from: '', to: 'analysis.preparing' });
    const page = await json<{ steps: Step[]; next: string }>(await t.api('GET', `/tasks/${task.id}/replay?to=3&limit=2`));
    expect(page.steps.map((s) => s.n)).toEqual([1, 2]);
    const rest = await json<{ steps: Step[]; next: string | null }>(await t.api('GET', `/tasks/${task.id}/replay?to=3&limit=2&cursor=${page.next}`));
    expect(rest).toEqual({ steps: [expect.objectContaining({ n: 3 })], next: null });
  });

  it('answers 422 naming n or to for a step outside the history, and 404 for an unknown task', async () => {
    const task = await travelledTask();
    const of = t.conveyor.history(task.id).length;
    for (const n of ['0', String(of + 1), 'x', '1.5', '-1']) {
      await expectError(await t.api('GET', `/tasks/${task.id}/at/${n}`), 422, 'invalid_payload', 'n');
      await expectError(await t.api('GET', `/tasks/${task.id}/at/${n}/chart.svg`), 422, 'invalid_payload', 'n');
    }
    await expectError(await t.api('GET', `/tasks/${task.id}/replay?to=zero`), 422, 'invalid_payload', 'to');
    await expectError(await t.api('GET', '/tasks/nope/at/1'), 404, 'not_found', 'id');
    await expectError(await t.api('GET', '/tasks/nope/at/1/chart.svg'), 404, 'not_found', 'id');
    await expectError(await t.api('GET', '/tasks/nope/replay'), 404, 'not_found', 'id');
  });
});
