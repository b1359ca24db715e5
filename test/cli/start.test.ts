import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskSummary } from '../../actors/index.ts';
import { defaultPipeline } from '../../machines/index.ts';
import { ROOT, conveyorCli } from './harness.ts';

/** Every stage without an agent: its work is done at once. */
const NO_AGENTS = Object.fromEntries(defaultPipeline.stages.map((s) => [s.id, { agent: null }]));

let dir: string;
let child: ChildProcess | null = null;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'conveyor-cli-start-'));
});
afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

describe('conveyor start', { timeout: 120_000 }, () => {
  it('runs conveyor as npm start does; the other commands find it with the token from its data directory', async () => {
    const config = join(dir, 'conveyor.config.json');
    await writeFile(config, JSON.stringify({ repositories: [{ name: 'shop', remote: '/nonexistent/shop.git' }], pipeline: { stages: NO_AGENTS } }));
    const data = join(dir, 'data');
    const { CONVEYOR_API_TOKEN: _t, CONVEYOR_DATA: _d, ...env } = process.env;
    const proc = spawn(process.execPath, ['server/cli/conveyor.mjs', 'start', '--port', '0', '--host', '127.0.0.1', '--data', data, '--config', config], {
      cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    let output = '';
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
        if (m) resolve(m[1]!);
      };
      proc.stdout.on('data', onData);
      proc.stderr.on('data', onData);
      void exited.then((code) => reject(new Error(`conveyor start exited (${code}) before listening:\n${output}`)));
    });

    // No token in the environment: the CLI reads the one conveyor generated into its data directory.
    const empty = await conveyorCli(['tasks', '--url', url, '--data', data]);
    expect(empty.code).toBe(0);
    expect(empty.stdout).toBe('no tasks\n');
    const token = (JSON.parse(await readFile(join(data, 'secrets.json'), 'utf8')) as Record<string, string>).CONVEYOR_API_TOKEN;
    const created = await fetch(`${url}/api/tasks`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ repo: 'shop', title: 'By hand' }),
    });
    expect(created.status).toBe(201);
    const listed = await conveyorCli(['tasks', '--json'], { CONVEYOR_URL: url, CONVEYOR_DATA: data });
    expect((JSON.parse(listed.stdout) as TaskSummary[]).map((t) => t.title)).toEqual(['By hand']);

    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toContain('stopped cleanly');
    // Stopped, its data directory is sound and holds the task.
    const verify = await conveyorCli(['store', 'verify', '--data', data]);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/contents: seq \d+; 1 tasks/);
  });

  it('refuses a bad flag with the reason, exit 1, as npm start does', async () => {
    const res = await conveyorCli(['start', '--port', 'eighty', '--data', join(dir, 'other')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('--port');
  });
});
