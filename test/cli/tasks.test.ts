import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskSummary, TaskView } from '../../actors/index.ts';
import type { HistoryEntry } from '../../store/index.ts';
import { createTask } from '../decisions/git-app.ts';
import { isolateGitConfig } from '../git/fixtures.ts';
import { API_TOKEN, waitForState } from '../support/http-fixtures.ts';
import { conveyorCli, serveGitApp, type ServedApp } from './harness.ts';

let restoreEnv: () => void;
let t: ServedApp;
let first: TaskView;
let second: TaskView;
beforeAll(async () => {
  restoreEnv = isolateGitConfig();
  t = await serveGitApp();
  first = await createTask(t, { title: 'Add search' });
  second = await createTask(t, { title: 'Fix login' });
}, 60_000);
afterAll(async () => {
  await t.close();
  restoreEnv();
});

const cli = (...args: string[]) => conveyorCli(args, t.env);

describe('conveyor status and tasks', { timeout: 90_000 }, () => {
  it('status prints the tasks by stage, and --json the whole status', async () => {
    const human = await cli('status');
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/tasks: +2 \(analysis 2\)/);
    const json = await cli('status', '--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ tasks: { total: 2, byStage: { analysis: 2 } } });
  });

  it('tasks lists every task with its stage and state, filtered by --stage and --repo', async () => {
    const human = await cli('tasks');
    expect(human.code).toBe(0);
    const lines = human.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID +STAGE +STATE +REPO +TITLE$/);
    expect(lines.slice(1)).toEqual([expect.stringContaining(first.id), expect.stringContaining(second.id)]);
    expect(lines[1]).toMatch(/analysis +analysis\.gating +shop +Add search/);
    const json = await cli('tasks', '--stage', 'analysis', '--repo', 'shop', '--json');
    expect((JSON.parse(json.stdout) as TaskSummary[]).map((s) => s.id)).toEqual([first.id, second.id]);
    expect((await cli('tasks', '--stage', 'review')).stdout).toBe('no tasks\n');
  });

  it('show prints a task with the decision it waits on and its jobs', async () => {
    const human = await cli('show', first.id);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`${first.id}  Add search`);
    expect(human.stdout).toContain('state analysis.gating');
    expect(human.stdout).toMatch(/options: "Approve", "Reject"/);
    expect(human.stdout).toMatch(/JOB +STAGE +ATTEMPT +STATUS/);
    const missing = await cli('show', 'nope');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('404');
    expect(missing.stderr).toContain('task nope does not exist');
  });
});

describe('conveyor event and history', { timeout: 90_000 }, () => {
  it('holds and resumes a task; an event it does not take exits 1 with the reason', async () => {
    const hold = await cli('event', second.id, 'hold', '--reason', 'waiting for legal');
    expect(hold.code).toBe(0);
    expect(hold.stdout).toContain(`task ${second.id}: hold accepted; now onHold`);
    expect(t.conveyor.task(second.id)?.context.hold?.reason).toBe('waiting for legal');
    const again = await cli('event', second.id, 'resume');
    expect(again.code).toBe(0);
    await waitForState(t.conveyor, second.id, 'analysis.gating');
    const refused = await cli('event', second.id, 'resume');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('409');

    const history = await cli('history', second.id, '--json');
    const entries = JSON.parse(history.stdout) as HistoryEntry[];
    expect(entries.filter((h) => h.source === 'operator').map((h) => [h.event.type, h.accepted])).toEqual([['task.created', true], ['task.hold', true], ['task.resume', true], ['task.resume', false]]);
    const human = await cli('history', second.id);
    expect(human.stdout).toMatch(/operator +task\.hold +analysis\.gating → onHold/);
    expect(human.stdout).toMatch(/operator +task\.resume +ignored: /);
  });
});

describe('conveyor replay', { timeout: 90_000 }, () => {
  it('prints each step of a task\'s history: event, from, to and the guards that decided; --to stops there', async () => {
    const all = await cli('replay', first.id);
    expect(all.code).toBe(0);
    const steps = all.stdout.split('\n').filter((line) => line.startsWith('#'));
    expect(steps).toHaveLength(t.conveyor.history(first.id).length);
    expect(steps[0]).toMatch(/^#1 .* operator +task\.created +new → analysis\.preparing$/);
    expect(all.stdout).toMatch(/job\.exited +analysis\.working\.(queued|running) → analysis\.gating\n +guards: ✓ currentJob, ✗ asksQuestion, ✓ currentJob, ✓ exitedCleanly, ✗ gateGreen\(approval\), ✗ gateRed\(approval\)/);
    const two = await cli('replay', first.id, '--to', '2');
    expect(two.stdout.split('\n').filter((line) => line.startsWith('#'))).toHaveLength(2);
    const json = JSON.parse((await cli('replay', first.id, '--json')).stdout) as { n: number; to: string }[];
    expect(json.at(-1)).toMatchObject({ n: steps.length, to: 'analysis.gating' });
    expect((await cli('replay', first.id, '--to', 'x')).code).toBe(2);
  });
});

describe('conveyor usage and access', { timeout: 90_000 }, () => {
  it('exits 2 with the usage for an unknown command, a missing argument, an unknown flag or event', async () => {
    for (const args of [['frobnicate'], ['show'], ['tasks', '--colour'], ['event', first.id, 'explode'], []]) {
      const res = await cli(...args);
      expect(res.code, args.join(' ')).toBe(2);
      expect(res.stdout + res.stderr).toContain('usage: conveyor');
    }
    const help = await cli('--help');
    expect(help.code).toBe(0);
    for (const command of ['start', 'status', 'tasks', 'show', 'history', 'replay', 'decisions', 'decide', 'event', 'logs', 'alerts', 'store', 'config', 'tracker', 'export']) {
      expect(help.stdout).toContain(`\n  ${command}`);
    }
  });

  it('reads the token from the data directory\'s secrets.json, and fails clearly without one or with a wrong one', async () => {
    const data = join(t.root, 'cli-data');
    await mkdir(data, { recursive: true });
    const noToken = await conveyorCli(['tasks', '--data', data], { CONVEYOR_URL: t.url });
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toContain('no API token');
    await writeFile(join(data, 'secrets.json'), JSON.stringify({ CONVEYOR_API_TOKEN: API_TOKEN }));
    const viaData = await conveyorCli(['tasks', '--json'], { CONVEYOR_URL: t.url, CONVEYOR_DATA: data });
    expect(viaData.code).toBe(0);
    expect((JSON.parse(viaData.stdout) as TaskSummary[]).length).toBe(2);
    const wrong = await conveyorCli(['tasks'], { CONVEYOR_URL: t.url, CONVEYOR_API_TOKEN: 'wrong' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('401');
    const nobody = await conveyorCli(['status', '--url', 'http://127.0.0.1:1'], { CONVEYOR_API_TOKEN: API_TOKEN });
    expect(nobody.code).toBe(1);
    expect(nobody.stderr).toContain('cannot reach http://127.0.0.1:1');
  });
});
