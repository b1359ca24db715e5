import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../../store/index.ts';

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
const storeUrl = new URL('../../store/index.ts', import.meta.url).href;

// Runs in a child whose file size limit (ulimit -f, in KiB) is far below one of its commits: the kernel
// writes part of that line and then refuses with EFBIG, a real disk failure in the middle of a batch.
const script = `
const { EmbeddedStore } = await import(process.env.STORE_URL);
const store = new EmbeddedStore({ dir: process.env.STORE_DIR });
await store.load();
const task = (id, rev, bytes) => ({
  kind: 'task',
  expectedRev: rev === 1 ? null : rev - 1,
  task: { id, machineId: 'task', version: 1, rev, meta: { repo: 'acme/web', title: id, branch: id, createdAt: 1 }, snapshot: { blob: 'x'.repeat(bytes) } },
});
const outcome = (promise) => promise.then((seq) => ({ seq }), (error) => ({ name: error.name, message: error.message }));
const out = {};
out.first = await outcome(store.commit([task('small', 1, 10)]));
const big = outcome(store.commit([task('big', 1, 200000), { kind: 'put', collection: 'decisions', id: 'd-big', value: 1 }]));
await new Promise((resolve) => setImmediate(resolve));
const dependent = outcome(store.commit([task('big', 2, 10)]));
const independent = outcome(store.commit([task('other', 1, 10)]));
out.big = await big;
out.dependent = await dependent;
out.independent = await independent;
out.after = { big: store.getTask('big') ?? null, decision: store.get('decisions', 'd-big') ?? null, tasks: store.taskCount(), seq: store.stats().seq };
out.next = await outcome(store.commit([task('small', 2, 10)]));
console.log(JSON.stringify(out));
process.exit(0);
`;

interface Outcome {
  seq?: number;
  name?: string;
  message?: string;
}

function runLimited(dir: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', 'ulimit -f 64 && exec "$0" --import tsx --input-type=module -e "$1"', process.execPath, script], {
      cwd: projectRoot,
      env: { ...process.env, STORE_URL: storeUrl, STORE_DIR: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`child exited ${code}: ${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>);
    });
  });
}

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'conveyor-write-failure-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('EmbeddedStore write failure', () => {
  it('rejects the failed batch with StoreWriteError, applies nothing of it, and keeps working', async () => {
    const dir = join(root, 'data');
    const out = await runLimited(dir);

    expect(out.first).toEqual({ seq: 1 });
    const big = out.big as Outcome;
    expect(big.name).toBe('StoreWriteError');
    expect(big.message).toContain(join(dir, 'journal.jsonl'));
    expect(big.message).toContain('EFBIG');
    // It counted on the failed batch's rev, so it is stale once that batch is gone.
    expect((out.dependent as Outcome).name).toBe('StaleWriteError');
    expect(out.independent).toEqual({ seq: 2 });
    expect(out.after).toEqual({ big: null, decision: null, tasks: 2, seq: 2 });
    expect(out.next).toEqual({ seq: 3 });

    // The part of the failed line that reached the disk was cut off before the next append.
    const journal = await readFile(join(dir, 'journal.jsonl'), 'utf8');
    expect(journal.endsWith('\n')).toBe(true);
    expect(journal).not.toContain('"big"');
    const seqs = journal.split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { seq: number }).seq);
    expect(seqs).toEqual([1, 2, 3]);

    const reopened = new EmbeddedStore({ dir });
    await reopened.load();
    try {
      expect(reopened.getTask('small')?.rev).toBe(2);
      expect(reopened.getTask('other')?.rev).toBe(1);
      expect(reopened.getTask('big')).toBeUndefined();
      expect(reopened.get('decisions', 'd-big')).toBeUndefined();
    } finally {
      await reopened.close();
    }
  });
});
