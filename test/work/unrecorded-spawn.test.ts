import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { CommandExecutor, Conveyor, isAlive, Workbench } from '../../actors/index.ts';
import { EmbeddedStore } from '../../store/index.ts';
import { waitForState } from '../support/http-fixtures.ts';
import { killGroups } from '../support/process-groups.ts';

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
const actorsUrl = new URL('../../actors/index.ts', import.meta.url).href;
const storeUrl = new URL('../../store/index.ts', import.meta.url).href;

/** The agent notes each run of it, by job, in a file of the test's. */
const AGENT = ['sh', '-c', 'echo "$CONVEYOR_JOB_ID" >> "$MARK"'];

// A conveyor that dies (SIGKILL, as a power cut or the OOM killer would) the moment its executor has spawned a
// job's process, before the job record names that process.
const script = `
const { join } = await import('node:path');
const { Conveyor, Workbench, CommandExecutor } = await import(process.env.ACTORS_URL);
const { EmbeddedStore } = await import(process.env.STORE_URL);
const dir = process.env.DIR;
const real = new CommandExecutor({ command: ${JSON.stringify(AGENT)} });
const crashing = { start(spec) { const job = real.start(spec); console.log(JSON.stringify({ relay: job.pid })); process.kill(process.pid, 'SIGKILL'); return job; } };
const workbench = new Workbench({ dataDir: join(dir, 'data'), agents: { analyst: { executor: crashing, env: { MARK: process.env.MARK } } } });
const conveyor = new Conveyor({ store: new EmbeddedStore({ dir: join(dir, 'store') }), workbench });
await conveyor.start();
await conveyor.createTask({ repo: 'shop', title: 'dies after the spawn' }, { source: 'operator' });
await new Promise(() => undefined);
`;

const dirs: string[] = [];
const groups: number[] = [];
const open: Conveyor[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c.stop().catch(() => undefined);
  killGroups(groups);
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

function crashAfterSpawn(dir: string, mark: string): Promise<{ relay: number; signal: string | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: projectRoot,
      env: { ...process.env, ACTORS_URL: actorsUrl, STORE_URL: storeUrl, DIR: dir, MARK: mark },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      const line = stdout.trim().split('\n').at(-1) ?? '';
      if (!line.startsWith('{')) return reject(new Error(`the child printed no relay pid: ${stderr}`));
      resolve({ relay: (JSON.parse(line) as { relay: number }).relay, signal });
    });
  });
}

describe('a process spawned but not recorded when conveyor dies', () => {
  it('never runs its agent, ends by itself, and the restarted conveyor runs the job once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'conveyor-unrecorded-'));
    dirs.push(dir);
    const mark = join(dir, 'runs.txt');
    const crashed = await crashAfterSpawn(dir, mark);
    expect(crashed.signal).toBe('SIGKILL');
    groups.push(crashed.relay);

    // Nobody watches it: it must not go on by itself.
    for (let i = 0; i < 200 && isAlive(crashed.relay); i++) await delay(25);
    expect(isAlive(crashed.relay)).toBe(false);
    await delay(200);
    expect(existsSync(mark)).toBe(false);

    const workbench = new Workbench({ dataDir: join(dir, 'data'), agents: { analyst: { executor: new CommandExecutor({ command: AGENT }), env: { MARK: mark } } } });
    const conveyor = new Conveyor({ store: new EmbeddedStore({ dir: join(dir, 'store') }), workbench });
    await conveyor.start();
    open.push(conveyor);
    const [task] = [...conveyor.records()];
    await waitForState(conveyor, task!.id, 'analysis.gating', 15_000);
    expect((await readFile(mark, 'utf8')).trim().split('\n')).toHaveLength(1);
  });
});
