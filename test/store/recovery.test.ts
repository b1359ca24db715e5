import { appendFile, cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EmbeddedStore, StoreClosedError, StoreCorruptError } from '../../store/index.ts';
import type { EmbeddedStoreOptions, Store, StoreRecord, TaskRecord } from '../../store/index.ts';

let root: string;
const opened: EmbeddedStore[] = [];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'conveyor-recovery-'));
});

afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
  await rm(root, { recursive: true, force: true });
});

async function openStore(dir: string, options: Partial<EmbeddedStoreOptions> = {}): Promise<EmbeddedStore> {
  const store = new EmbeddedStore({ dir, ...options });
  opened.push(store);
  await store.load();
  return store;
}

/** Copies a live store's directory: the files as a crash at this moment would leave them. */
async function crashImage(dir: string, name: string): Promise<string> {
  const copy = join(root, name);
  await cp(dir, copy, { recursive: true });
  return copy;
}

function task(id: string, rev: number, title = `Task ${id}`): TaskRecord {
  return {
    id,
    machineId: 'task',
    version: 1,
    rev,
    meta: { repo: 'acme/web', title, branch: `conveyor/${id}`, createdAt: 1_700_000_000_000 },
    snapshot: { value: 'build', context: { rev } },
  };
}

function write(record: TaskRecord): StoreRecord {
  return { kind: 'task', task: record, expectedRev: record.rev === 1 ? null : record.rev - 1 };
}

function step(id: string, rev: number): StoreRecord[] {
  return [
    write(task(id, rev)),
    { kind: 'history', taskId: id, entry: { at: rev, source: 'job', event: { type: 'job.done' }, accepted: true, from: 'a', to: 'b' } },
  ];
}

/** Everything a reader can see, for comparing two stores. */
function dump(store: Store): unknown {
  const tasks = [...store.listTasks()].sort((a, b) => a.id.localeCompare(b.id));
  return {
    tasks,
    history: tasks.map((t) => store.getHistory(t.id)),
    decisions: store.list('decisions'),
    taskCount: store.taskCount(),
    seq: store.stats().seq,
  };
}

describe('EmbeddedStore recovery', () => {
  it('ignores a torn last journal line, cuts it off, and loads the commits made after it', async () => {
    const live = await openStore(join(root, 'live'));
    await live.commit(step('t1', 1));
    await live.commit(step('t1', 2));
    const dir = await crashImage(join(root, 'live'), 'torn');
    const torn = '{"seq":3,"records":[{"kind":"put","collection":"decisions","id":"d9","value":{"q';
    await appendFile(join(dir, 'journal.jsonl'), torn);

    const restarted = await openStore(dir);
    expect(restarted.getTask('t1')?.rev).toBe(2);
    expect(restarted.get('decisions', 'd9')).toBeUndefined();
    expect(await restarted.commit(step('t1', 3))).toBe(3);

    const journal = await readFile(join(dir, 'journal.jsonl'), 'utf8');
    expect(journal).not.toContain('"d9"');
    expect(journal.split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { seq: number }).seq)).toEqual([1, 2, 3]);
    const again = await openStore(await crashImage(dir, 'torn-again'));
    expect(again.getTask('t1')?.rev).toBe(3);
    expect(again.getHistory('t1')).toHaveLength(3);
  });

  it('refuses a corrupt journal line that is not the last, naming the file and byte offset', async () => {
    const live = await openStore(join(root, 'live'));
    await live.commit(step('t1', 1));
    await live.commit(step('t1', 2));
    await live.commit(step('t1', 3));
    const dir = await crashImage(join(root, 'live'), 'corrupt');
    const file = join(dir, 'journal.jsonl');
    const bytes = await readFile(file);
    const secondLine = bytes.indexOf('\n') + 1;
    const damaged = bytes.indexOf('"records"', secondLine) + 1;
    bytes[damaged - 1] = 0x23; // '#' where the quote of "records" was
    await writeFile(file, bytes);

    const store = new EmbeddedStore({ dir });
    opened.push(store);
    const error = await store.load().then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(StoreCorruptError);
    expect(error).toMatchObject({ file, offset: damaged - 1 });
    expect((error as Error).message).toContain(file);
    expect((error as Error).message).toContain(`byte ${damaged - 1}`);
    await expect(store.commit(step('t2', 1))).rejects.toBeInstanceOf(StoreClosedError);
    await store.close();
    expect(await readFile(file)).toEqual(bytes);
  });

  it('refuses a complete last journal line that is corrupt rather than dropping an acknowledged commit', async () => {
    const live = await openStore(join(root, 'live'));
    await live.commit(step('t1', 1));
    const dir = await crashImage(join(root, 'live'), 'bad-last');
    const lineStart = (await readFile(join(dir, 'journal.jsonl'))).length;
    await appendFile(join(dir, 'journal.jsonl'), '{"seq":2,"records":[oops]}\n');
    const store = new EmbeddedStore({ dir });
    opened.push(store);
    await expect(store.load()).rejects.toMatchObject({ name: 'StoreCorruptError', offset: lineStart + '{"seq":2,"records":['.length });
  });

  it('refuses a journal whose seqs skip a batch', async () => {
    const dir = join(root, 'gap');
    const line = (seq: number) => JSON.stringify({ seq, records: step(`t${seq}`, 1) }) + '\n';
    await mkdir(dir);
    await writeFile(join(dir, 'journal.jsonl'), line(1) + line(3));
    const store = new EmbeddedStore({ dir });
    opened.push(store);
    await expect(store.load()).rejects.toMatchObject({ name: 'StoreCorruptError', offset: Buffer.byteLength(line(1)) });
  });

  it('refuses a corrupt checkpoint, naming the file and byte offset, and leaves it byte-identical', async () => {
    const dir = join(root, 'data');
    const live = await openStore(dir);
    await live.commit([write(task('t1', 1, 'Überprüfung des Zahlungsflusses ✓'))]);
    await live.commit([write(task('t2', 1))]);
    await live.close();

    const file = join(dir, 'checkpoint.json');
    const good = await readFile(file);
    const at = good.indexOf('"t2"');
    const bad = Buffer.concat([good.subarray(0, at), Buffer.from('}'), good.subarray(at)]);
    await writeFile(file, bad);

    const store = new EmbeddedStore({ dir, checkpointEvery: 1 });
    opened.push(store);
    const error = await store.load().then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(StoreCorruptError);
    // A byte offset, not a character index: the title before it holds multi-byte characters.
    expect(error).toMatchObject({ file, offset: at });
    expect((error as Error).message).toMatch(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is corrupt at byte ${at}`));
    await expect(store.commit([write(task('t3', 1))])).rejects.toBeInstanceOf(StoreClosedError);
    await store.close();
    expect(await readFile(file)).toEqual(bad);
    expect((await readdir(dir)).sort()).toEqual(['checkpoint.json', 'journal.jsonl']);
  });

  it('refuses a checkpoint cut short, at the byte where it ends', async () => {
    const dir = join(root, 'data');
    const live = await openStore(dir);
    await live.commit([write(task('t1', 1))]);
    await live.close();
    const file = join(dir, 'checkpoint.json');
    const cut = (await readFile(file)).subarray(0, 60);
    await writeFile(file, cut);
    const store = new EmbeddedStore({ dir });
    opened.push(store);
    await expect(store.load()).rejects.toMatchObject({ name: 'StoreCorruptError', file, offset: 60 });
    expect(await readFile(file)).toEqual(cut);
  });

  it('refuses a checkpoint of another format', async () => {
    const dir = join(root, 'data');
    const live = await openStore(dir);
    await live.close();
    const file = join(dir, 'checkpoint.json');
    await writeFile(file, JSON.stringify({ format: 3, seq: 0, doc: {} }));
    const store = new EmbeddedStore({ dir });
    opened.push(store);
    await expect(store.load()).rejects.toThrow(/format is 3/);
  });

  it('checkpoints after N records while commits go on to the other journal file, empties the first, and reloads the same document', async () => {
    const dir = join(root, 'data');
    const store = await openStore(dir, { checkpointEvery: 10 });
    for (let rev = 1; rev <= 6; rev++) await store.commit(step('t1', rev));
    await store.commit([{ kind: 'put', collection: 'decisions', id: 'd1', value: { answer: 'ship' } }]);

    await vi.waitFor(() => expect(store.stats()).toMatchObject({ seq: 7, checkpoints: 1, journalRecords: 3 }));
    const checkpoint = JSON.parse(await readFile(join(dir, 'checkpoint.json'), 'utf8')) as { format: number; seq: number };
    expect(checkpoint).toMatchObject({ format: 2, seq: 5 });
    const seqs = async (name: string) => (await readFile(join(dir, name), 'utf8')).split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { seq: number }).seq);
    expect(await seqs('journal.alt.jsonl')).toEqual([6, 7]);
    expect(await seqs('journal.jsonl')).toEqual([]);

    const reopened = await openStore(await crashImage(dir, 'image'));
    expect(dump(reopened)).toEqual(dump(store));
    expect(reopened.getHistory('t1')).toHaveLength(6);
  });

  it('checkpoints once the interval has passed on the clock', async () => {
    let now = 1_000;
    const clock = { now: () => now };
    const store = await openStore(join(root, 'data'), { checkpointIntervalMs: 500, clock });
    await store.commit(step('t1', 1));
    expect(store.stats()).toMatchObject({ checkpoints: 0, lastCheckpointAt: null, journalRecords: 2 });
    now = 1_600;
    await store.commit(step('t1', 2));
    // The checkpoint starts after that batch is acknowledged, before the next batch is written, and is written beside it.
    await store.commit([]);
    await vi.waitFor(() => expect(store.stats()).toMatchObject({ checkpoints: 1, lastCheckpointAt: 1_600, journalRecords: 0 }));
  });

  it('skips journal lines the checkpoint already holds', async () => {
    const dir = join(root, 'data');
    const store = await openStore(dir);
    await store.commit(step('t1', 1));
    await store.commit(step('t1', 2));
    const before = await readFile(join(dir, 'journal.jsonl'));
    await store.close();
    // As if the process died after the checkpoint was renamed into place but before the journal restarted.
    await writeFile(join(dir, 'journal.jsonl'), before);

    const reopened = await openStore(dir);
    expect(reopened.getHistory('t1')).toHaveLength(2);
    expect(reopened.stats()).toMatchObject({ seq: 2, journalRecords: 0 });
    expect(await reopened.commit(step('t1', 3))).toBe(3);
    const again = await openStore(await crashImage(dir, 'image'));
    expect(again.getHistory('t1')).toHaveLength(3);
  });

  it('creates a missing data directory', async () => {
    const dir = join(root, 'a', 'b', 'data');
    const store = await openStore(dir);
    await store.commit(step('t1', 1));
    expect((await readdir(dir)).sort()).toEqual(['journal.jsonl']);
  });
});
