import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EffectRecord } from '../../actors/index.ts';
import type { HistoryEntry } from '../../store/index.ts';
import { cloneRemote, commitAndPush, createRemote, git, isolateGitConfig, makeTempDir, remoteHead } from '../git/fixtures.ts';
import { ForgeDouble, type DoublePullRequest } from '../support/forge-double.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const CHILD = 'test/support/effects-kill-child.ts';

let restoreGit: () => void;
beforeAll(() => {
  restoreGit = isolateGitConfig();
});
afterAll(() => restoreGit());

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Child {
  process: ChildProcess;
  lines: AsyncIterator<string>;
  exited: Promise<number | null>;
  output: () => string;
}

/** Starts the conveyor child process; its stdout is read line by line. */
function startChild(args: Record<string, unknown>): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(args)], { cwd: ROOT, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const queue: string[] = [];
  let wake: (() => void) | null = null;
  let buffer = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    buffer += chunk.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop() ?? '';
    queue.push(...parts);
    wake?.();
  });
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => {
    wake?.();
    done(code);
  }));
  let gone = false;
  void exited.then(() => (gone = true));
  const lines: AsyncIterator<string> = {
    async next() {
      for (;;) {
        const line = queue.shift();
        if (line !== undefined) return { value: line, done: false };
        if (gone) return { value: undefined, done: true };
        await new Promise<void>((r) => (wake = r));
      }
    },
  };
  cleanups.push(async () => {
    if (!gone) child.kill('SIGKILL');
    await exited;
  });
  return { process: child, lines, exited, output: () => output };
}

async function lineStarting(child: Child, prefix: string): Promise<string> {
  for (;;) {
    const next = await child.lines.next();
    if (next.done) throw new Error(`kill test: the child ended before printing ${prefix}:\n${child.output()}`);
    if (next.value.startsWith(prefix)) return next.value.slice(prefix.length);
  }
}

async function world(hold: 'before-merging' | 'after-merging') {
  const tmp = await makeTempDir('conveyor-kill-');
  cleanups.push(tmp.cleanup);
  const remote = (await createRemote(tmp.path, { 'README.md': 'shop\n' })).path;
  const dev = await cloneRemote(remote, join(tmp.path, 'dev'));
  await git(dev, 'checkout', '--quiet', '-b', 'feature-k');
  const sha = await commitAndPush(dev, { 'feature.txt': 'the change\n' }, 'the change');
  // main moves on meanwhile, so the merge has to rebase and push first.
  await git(dev, 'checkout', '--quiet', 'main');
  await commitAndPush(dev, { 'other.txt': 'landed first\n' }, 'someone else lands first');

  let signal!: (pr: DoublePullRequest) => void;
  const received = new Promise<DoublePullRequest>((r) => (signal = r));
  const never = new Promise<void>(() => undefined);
  const forge = await ForgeDouble.start({
    bareRepo: remote,
    // The first merge call is held: before the forge merges (the call is lost) or after (the answer is).
    onMergeCall: (pr) => {
      if (pr.mergeCalls !== 1 || hold !== 'before-merging') return;
      signal(pr);
      return never;
    },
    afterMerge: (pr) => {
      if (pr.mergeCalls !== 1 || hold !== 'after-merging') return;
      signal(pr);
      return never;
    },
  });
  cleanups.push(() => forge.close());
  const pr = forge.addPullRequest({ head: 'feature-k' });
  const args = { dataDir: join(tmp.path, 'data'), remote, forge: forge.config(), branch: 'feature-k', pr: pr.number, sha };
  return { remote, forge, pr, args, received };
}

interface Result {
  state: string;
  history: HistoryEntry[];
  effects: EffectRecord[];
  bootId: string;
}

async function killAndResume(w: Awaited<ReturnType<typeof world>>): Promise<Result> {
  const first = startChild({ ...w.args, phase: 'drive' });
  const taskId = await lineStarting(first, 'TASK ');
  await w.received;
  first.process.kill('SIGKILL');
  expect(await first.exited).toBeNull();
  const second = startChild({ ...w.args, phase: 'resume', taskId });
  const result = JSON.parse(await lineStarting(second, 'RESULT ')) as Result;
  expect(await second.exited).toBe(0);
  return result;
}

const mergeCommits = async (remote: string) => (await git(remote, 'log', '--merges', '--format=%H', 'main')).split('\n').filter(Boolean);
const mergesDone = (r: Result) => r.history.filter((h) => h.accepted && h.event.type === 'effect.done' && h.event.effect === 'mergePullRequest');

describe('kill -9 between started and completed of a merge', () => {
  it('finds the merge done at the forge after a restart and does not merge again', async () => {
    const w = await world('after-merging');
    const result = await killAndResume(w);
    expect(result.state).toBe('deploy-staging.gating');
    expect(w.pr).toMatchObject({ merged: true, merges: 1, mergeCalls: 1 });
    const merges = await mergeCommits(w.remote);
    expect(merges).toHaveLength(1);
    expect(await remoteHead(w.remote, 'main')).toBe(merges[0]);
    const merge = result.effects.find((e) => e.effect === 'mergePullRequest');
    expect(merge).toMatchObject({ status: 'completed', result: { merged: true, mergeSha: merges[0] }, reconciled: { outcome: 'done', bootId: result.bootId } });
    expect(merge?.bootId).not.toBe(result.bootId);
    expect(mergesDone(result)).toHaveLength(1);
    expect(result.history.some((h) => h.accepted && h.to.startsWith('development') && h.from.startsWith('deploy-staging'))).toBe(false);
  }, 90_000);

  it('merges once after a restart when the killed process’s call never reached the merge', async () => {
    const w = await world('before-merging');
    const result = await killAndResume(w);
    expect(result.state).toBe('deploy-staging.gating');
    // The held call never merges; the restarted process's call is the one merge.
    expect(w.pr).toMatchObject({ merged: true, merges: 1, mergeCalls: 2 });
    const merges = await mergeCommits(w.remote);
    expect(merges).toHaveLength(1);
    expect(result.effects.find((e) => e.effect === 'mergePullRequest')).toMatchObject({ status: 'completed', result: { merged: true, mergeSha: merges[0] }, reconciled: { outcome: 'not_done' } });
    expect(mergesDone(result)).toHaveLength(1);
    // The branch was rebased onto main before the merge: main holds both changes.
    expect(await git(w.remote, 'show', 'main:feature.txt')).toBe('the change');
    expect(await git(w.remote, 'show', 'main:other.txt')).toBe('landed first');
  }, 90_000);
});
