import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultPipeline } from '../../machines/index.ts';
import { TrackerDouble } from '../support/tracker-double.ts';
import { conveyorCli } from './harness.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'conveyor-cli-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const write = async (name: string, value: unknown) => {
  const path = join(dir, name);
  await writeFile(path, typeof value === 'string' ? value : JSON.stringify(value));
  return path;
};

describe('conveyor config check', { timeout: 90_000 }, () => {
  it('accepts the example configuration, and names every bad key of a broken one with exit 1', async () => {
    const ok = await conveyorCli(['config', 'check', 'conveyor.config.example.json']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('conveyor.config.example.json: valid (2 repositories, 5 agents)');
    const bad = await write('bad.json', { repositories: [{ name: 'web' }], agents: {}, limits: { globalJobs: 'six' }, colour: 'blue' });
    const res = await conveyorCli(['config', 'check', bad, '--json']);
    expect(res.code).toBe(1);
    const body = JSON.parse(res.stdout) as { ok: boolean; errors: string[] };
    expect(body.ok).toBe(false);
    expect(body.errors.join('\n')).toMatch(/repositories\.0\.remote/);
    expect(body.errors.join('\n')).toMatch(/limits\.globalJobs/);
    expect(body.errors.join('\n')).toMatch(/colour/);
    const missing = await conveyorCli(['config', 'check', join(dir, 'nope.json')]);
    expect(missing.code).toBe(1);
    expect((await conveyorCli(['config', 'check'])).code).toBe(2);
  });
});

describe('conveyor export', { timeout: 90_000 }, () => {
  it('exports a machine as JSON, Stately source and SVG, offline', async () => {
    const json = await conveyorCli(['export', 'task', '--format', 'json']);
    expect(json.code).toBe(0);
    const body = JSON.parse(json.stdout) as { id: string; config: { id: string; states: Record<string, { states?: Record<string, unknown> }> } };
    expect(body.id).toBe('task');
    expect(Object.keys(body.config.states)).toEqual(expect.arrayContaining(['active', 'onHold', 'done', 'cancelled']));
    expect(Object.keys(body.config.states.active?.states ?? {})).toEqual(expect.arrayContaining(['analysis', 'development', 'review']));
    const stately = await conveyorCli(['export', 'supervisor', '--format', 'stately']);
    expect(stately.stdout).toMatch(/^import \{ createMachine \} from 'xstate';/);
    const svg = await conveyorCli(['export', 'task', '--format', 'svg']);
    expect(svg.stdout).toMatch(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg.stdout).toContain('development');
    expect((await conveyorCli(['export', 'task', '--format', 'png'])).code).toBe(2);
    const unknown = await conveyorCli(['export', 'robot', '--format', 'json']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('machines: task, supervisor');
  });
});

describe('conveyor tracker states', { timeout: 90_000 }, () => {
  let tracker: TrackerDouble;
  beforeAll(async () => {
    tracker = await TrackerDouble.start();
    tracker.setStates('proj-1', [
      { id: 'st-progress', name: 'In Progress', group: 'started' },
      { id: 'st-blocked', name: 'Blocked', group: 'started' },
      { id: 'st-done', name: 'Done', group: 'completed' },
    ]);
  });
  afterAll(async () => {
    await tracker.close();
  });

  it('lists each project\'s states with their ids and a states map that the config check accepts', async () => {
    const config = {
      repositories: [{ name: 'web', remote: '/srv/git/web.git' }],
      pipeline: { stages: Object.fromEntries(defaultPipeline.stages.map((s) => [s.id, { agent: null }])) },
      tracker: { apiBase: tracker.apiBase, workspace: tracker.workspace, projectRepos: { 'proj-1': 'web' } },
    };
    const path = await write('tracker.json', config);
    const res = await conveyorCli(['tracker', 'states', '--config', path], { PLANE_TOKEN: tracker.token });
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/project proj-1\nID +NAME +GROUP\nst-progress +In Progress +started/);
    const json = await conveyorCli(['tracker', 'states', '--config', path, '--json'], { PLANE_TOKEN: tracker.token });
    const { states } = JSON.parse(json.stdout) as { states: Record<string, { meaning: string }> };
    expect(states).toEqual({
      'st-progress': { group: 'started', meaning: 'start', name: 'In Progress' },
      'st-blocked': { group: 'started', meaning: 'blocked', name: 'Blocked' },
      'st-done': { group: 'completed', meaning: 'done', name: 'Done' },
    });
    // What it prints is ready to paste: the configuration with it passes the check.
    const pasted = await write('pasted.json', { ...config, tracker: { ...config.tracker, states } });
    expect((await conveyorCli(['config', 'check', pasted])).code).toBe(0);

    const noToken = await conveyorCli(['tracker', 'states', '--config', path]);
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toContain('PLANE_TOKEN');
    expect((await conveyorCli(['tracker', 'states'])).code).toBe(2);
  });
});
