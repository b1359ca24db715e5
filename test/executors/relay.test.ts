import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { link, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { truncationMarker } from '../../actors/executors/index.ts';
import { killGroups } from '../support/process-groups.ts';

const node = process.execPath;
const RELAY = resolve(import.meta.dirname, '../../actors/executors/relay.mjs');
let dir: string;
let logPath: string;
let exitFile: string;
const groups: number[] = [];

interface Relayed {
  pid: number;
  /** The relay's own exit status. */
  status: Promise<{ code: number | null; signal: string | null }>;
}

function relay(...modeAndCommand: string[]): Relayed {
  const child = spawn(node, [RELAY, logPath, '4096', exitFile, ...modeAndCommand], { cwd: dir, detached: true, stdio: 'ignore' });
  const pid = child.pid ?? 0;
  groups.push(pid);
  const status = new Promise<{ code: number | null; signal: string | null }>((done) =>
    child.once('exit', (code, signal) => done({ code, signal })),
  );
  return { pid, status };
}

async function waitFor(what: string, predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (predicate()) return;
    await sleep(25);
  }
  throw new Error(`gave up waiting: ${what}`);
}

async function exitRecord(): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(exitFile, 'utf8')) as Record<string, unknown>;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'conveyor-relay-'));
  logPath = join(dir, 'job.log');
  exitFile = `${logPath}.exit.json`;
});

afterEach(async () => {
  killGroups(groups);
  await rm(dir, { recursive: true, force: true });
});

describe('relay', () => {
  it("exits with its agent's code and records it with the finish time", async () => {
    const before = Date.now();
    const run = relay('--', node, '-e', "console.log('out'); console.error('err'); process.exitCode = 7");
    expect(await run.status).toEqual({ code: 7, signal: null });
    const record = await exitRecord();
    expect(record).toMatchObject({ code: 7, signal: null });
    expect(record.finishedAt).toBeGreaterThanOrEqual(before);
    const log = await readFile(logPath, 'utf8');
    expect(log).toContain('out\n');
    expect(log).toContain('err\n');
  });

  it('runs a shell command with --shell', async () => {
    const run = relay('--shell', 'echo "$0" > shell.txt; exit 3');
    expect(await run.status).toEqual({ code: 3, signal: null });
    expect((await readFile(join(dir, 'shell.txt'), 'utf8')).trim()).toBe('/bin/sh');
    expect(await exitRecord()).toMatchObject({ code: 3, signal: null });
  });

  it('replaces the exit file by a rename, never writing into it', async () => {
    await writeFile(exitFile, 'stale');
    // A second name for the old file: a write in place would show through it, a rename would not.
    const witness = join(dir, 'witness');
    await link(exitFile, witness);
    const run = relay('--', node, '-e', 'process.exitCode = 7');
    expect(await run.status).toEqual({ code: 7, signal: null });
    expect(await readFile(witness, 'utf8')).toBe('stale');
    expect(await exitRecord()).toMatchObject({ code: 7, signal: null });
    expect((await readdir(dir)).sort()).toEqual(['job.log', 'job.log.exit.json', 'witness']);
  });

  it('exits with 128 plus the signal number when its agent is killed by a signal', async () => {
    const run = relay('--shell', 'kill -KILL $$');
    expect(await run.status).toEqual({ code: 137, signal: null });
    expect(await exitRecord()).toMatchObject({ code: null, signal: 'SIGKILL' });
  });

  it('forwards SIGTERM to its agent', async () => {
    const agent = [
      "process.on('SIGTERM', () => { console.log('agent got SIGTERM'); process.exitCode = 5; clearInterval(idle); });",
      'const idle = setInterval(() => undefined, 1000);',
      "require('fs').writeFileSync('ready', '');",
    ].join('\n');
    const run = relay('--', node, '-e', agent);
    await waitFor('the agent is ready', () => existsSync(join(dir, 'ready')));
    // Only the relay is signalled, not its group.
    process.kill(run.pid, 'SIGTERM');
    expect(await run.status).toEqual({ code: 5, signal: null });
    expect(await readFile(logPath, 'utf8')).toContain('agent got SIGTERM\n');
    expect(await exitRecord()).toMatchObject({ code: 5, signal: null });
  });

  it('bounds the log with one truncation marker', async () => {
    const run = relay('--', node, '-e', "process.stdout.write(Buffer.alloc(100 * 1024, 'y'))");
    expect(await run.status).toEqual({ code: 0, signal: null });
    const log = await readFile(logPath, 'utf8');
    expect(log).toBe(`${'y'.repeat(4096)}${truncationMarker(4096)}`);
  });

  it('records a spawn failure of its agent', async () => {
    const run = relay('--', join(dir, 'no-such-agent'));
    expect(await run.status).toEqual({ code: 127, signal: null });
    expect(await exitRecord()).toMatchObject({ code: null, signal: null, error: expect.stringContaining('ENOENT') });
    expect(await readFile(logPath, 'utf8')).toContain('[conveyor: spawn failed: ');
  });

  it('refuses arguments it cannot read and writes no exit file', async () => {
    const run = relay('--');
    expect(await run.status).toEqual({ code: 2, signal: null });
    expect(existsSync(exitFile)).toBe(false);
  });
});
