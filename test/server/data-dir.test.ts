import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultPipeline } from '../../machines/index.ts';
import { lockDataDir } from '../../server/data-dir-lock.ts';
import { makeTempDir } from '../git/fixtures.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'server/main.ts');
const STAGES = defaultPipeline.stages.map((s) => s.id);

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

const children: ChildProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** conveyor as a real process (node itself, so its pid is the one in the lock), with no secrets in its environment. */
function start(args: string[], env: Record<string, string> = {}): Run {
  const { CONVEYOR_API_TOKEN: _a, CONVEYOR_TRACKER_SECRET: _t, CONVEYOR_FORGE_SECRET: _f, CONVEYOR_DATA: _d, CONVEYOR_CONFIG: _c, ...rest } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--port', '0', ...args], { cwd: ROOT, env: { ...rest, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return { child, output: () => output, exited };
}

async function listening(run: Run): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!run.output().includes('listening on http')) {
    if (run.child.exitCode !== null || Date.now() > deadline) throw new Error(`conveyor did not start:\n${run.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function configured(): Promise<{ dir: string; data: string; config: string }> {
  const tmp = await makeTempDir('conveyor-data-dir-');
  cleanups.push(tmp.cleanup);
  const config = join(tmp.path, 'conveyor.config.json');
  await writeFile(config, JSON.stringify({ repositories: [{ name: 'app', remote: join(tmp.path, 'remote.git') }], reconciler: { enabled: false }, reaper: { enabled: false },
    pipeline: { stages: Object.fromEntries(STAGES.map((stage) => [stage, { agent: null }])) },
  }));
  return { dir: tmp.path, data: join(tmp.path, 'data'), config };
}

describe('one process per data directory', () => {
  it('refuses a second process on the same data directory, naming the holder, and takes over the lock of a killed one', async () => {
    const { data, config } = await configured();
    const first = start(['--config', config, '--data', data]);
    await listening(first);

    const second = start(['--config', config, '--data', data]);
    expect(await second.exited).toBe(1);
    expect(second.output()).toContain(`data directory ${data} is in use by process ${first.child.pid}`);

    first.child.kill('SIGKILL');
    await first.exited;
    const third = start(['--config', config, '--data', data]);
    await listening(third);
    expect(third.output()).toContain(`took over the lock of ${data} left by process ${first.child.pid}`);
    third.child.kill('SIGTERM');
    expect(await third.exited).toBe(0);
    expect(existsSync(join(data, 'conveyor.lock'))).toBe(false);
  }, 180_000);

  it('lets one of several processes take over a dead holder’s lock; the others then find the new holder alive', async () => {
    const tmp = await makeTempDir('conveyor-lock-race-');
    cleanups.push(tmp.cleanup);
    await writeFile(join(tmp.path, 'conveyor.lock'), JSON.stringify({ pid: 999_999, startedAt: 1 }));
    const outcomes = [101, 102, 103, 104].map((pid) => {
      try {
        lockDataDir(tmp.path, { self: { pid, startedAt: 5 }, isAlive: (p) => [101, 102, 103, 104].includes(p) });
        return 'won';
      } catch (err) {
        return (err as Error).name;
      }
    });
    expect(outcomes.filter((o) => o === 'won')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'DataDirLockedError')).toHaveLength(3);
  });
});

describe('secrets and the demo’s directory', () => {
  it('writes generated secrets to secrets.json with mode 0600 and prints its path, never a value', async () => {
    const { data, config } = await configured();
    const run = start(['--config', config, '--data', data]);
    await listening(run);
    run.child.kill('SIGTERM');
    await run.exited;
    const file = join(data, 'secrets.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(run.output()).toContain(`into ${file}`);
    for (const value of Object.values(JSON.parse(await readFile(file, 'utf8')) as Record<string, string>)) expect(run.output()).not.toContain(value);
  }, 120_000);

  it('refuses a configured conveyor on the demo’s store and the demo on a configured store, naming the directory', async () => {
    const { dir, data, config } = await configured();
    await mkdir(data, { recursive: true });
    await writeFile(join(data, 'conveyor-kind.json'), JSON.stringify({ kind: 'demo' }));
    const onDemo = start(['--config', config, '--data', data]);
    expect(await onDemo.exited).toBe(1);
    expect(onDemo.output()).toContain(`refusing to start with --config in ${data}: it holds the demo's store`);

    const real = join(dir, 'real');
    await mkdir(real);
    await writeFile(join(real, 'journal.jsonl'), '');
    const demoOnReal = start(['--data', real]);
    expect(await demoOnReal.exited).toBe(1);
    expect(demoOnReal.output()).toContain(`refusing to start the demo in ${real}: it holds a configured conveyor's store`);
  }, 120_000);
});
