import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert, DecisionRecord, TaskView } from '../../actors/index.ts';
import { createTask } from '../decisions/git-app.ts';
import { isolateGitConfig } from '../git/fixtures.ts';
import { waitForState } from '../support/http-fixtures.ts';
import { conveyorCli, serveGitApp, type ServedApp } from './harness.ts';

let restoreEnv: () => void;
let t: ServedApp;
let task: TaskView;
beforeAll(async () => {
  restoreEnv = isolateGitConfig();
  t = await serveGitApp();
  task = await createTask(t, { title: 'Add search' });
}, 60_000);
afterAll(async () => {
  await t.close();
  restoreEnv();
});

const cli = (...args: string[]) => conveyorCli(args, t.env);

describe('conveyor decisions, decide and alerts', { timeout: 180_000 }, () => {
  it('lists the pending decision, refuses an option it does not offer (raising an alert), takes a valid one', async () => {
    const listed = await cli('decisions', '--json');
    expect(listed.code).toBe(0);
    const [decision] = JSON.parse(listed.stdout) as DecisionRecord[];
    expect(decision).toMatchObject({ taskId: task.id, status: 'pending', options: ['Approve', 'Reject'] });
    const human = await cli('decisions');
    expect(human.stdout).toContain(`${decision!.id}  task ${task.id}  pending`);
    expect(human.stdout).toContain('options: "Approve", "Reject"');

    const wrong = await cli('decide', decision!.id, 'Maybe', '--by', 'pat');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/422.*valid options: Approve, Reject/);

    const alerts = await cli('alerts');
    expect(alerts.code).toBe(0);
    expect(alerts.stdout).toContain('invalid_decision_option');
    expect(alerts.stdout).toContain(`task ${task.id}`);
    expect(alerts.stdout).toContain(`→ Answer decision ${decision!.id}`);
    const [alert] = JSON.parse((await cli('alerts', '--json')).stdout) as Alert[];
    const ack = await cli('alerts', 'ack', alert!.id, '--by', 'pat', '--note', 'typo');
    expect(ack.code).toBe(0);
    expect(ack.stdout).toBe(`acknowledged ${alert!.id}\n`);
    expect((await cli('alerts')).stdout).toBe('no open alerts\n');
    const all = await cli('alerts', '--all');
    expect(all.stdout).toContain('acknowledged by pat');
    expect((await cli('alerts', 'ack', alert!.id)).code).toBe(1);

    // The answer's own words go with it (an agent's question takes them as its reply).
    const ok = await cli('decide', decision!.id, 'Approve', '--by', 'pat', '--answer', 'ship it behind a flag');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`decision ${decision!.id} answered "Approve"; task ${task.id} is now development`);
    await waitForState(t.conveyor, task.id, (v) => v.stage === 'development');
    expect((await cli('decisions')).stdout).toBe('no pending decisions\n');
    expect((JSON.parse((await cli('decisions', '--all', '--json')).stdout) as DecisionRecord[])[0]).toMatchObject({ status: 'resolved', resolution: 'Approve', answer: 'ship it behind a flag', by: 'pat' });
  });
});
