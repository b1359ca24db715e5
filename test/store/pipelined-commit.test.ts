import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedStore, nodeFileSystem, type AppendFile, type FileSystem, type StoreRecord } from '../../store/index.ts';

/** The node filesystem, with the journal's fsyncs held until the test lets each one return (or fail). */
function heldFsyncs() {
  const waiting: { release: (error?: Error) => void }[] = [];
  const log: string[] = [];
  const fs: FileSystem = {
    ...nodeFileSystem,
    openAppend: async (path) => {
      const file = await nodeFileSystem.openAppend(path);
      const held: AppendFile = {
        ...file,
        append: async (data) => {
          await file.append(data);
          log.push(`write seq ${(JSON.parse(Buffer.from(data).toString()) as { seq: number }).seq}`);
        },
        datasync: () =>
          new Promise<void>((resolve, reject) => {
            log.push('fsync started');
            waiting.push({ release: (error) => (error ? reject(error) : file.datasync().then(resolve, reject)) });
          }),
        sync: () => file.sync(),
        truncate: (length) => file.truncate(length),
        size: () => file.size(),
        close: () => file.close(),
      };
      return held;
    },
  };
  /** Lets the oldest held fsync return, or fail with `error`. */
  const release = async (error?: Error) => {
    while (waiting.length === 0) await new Promise((resolve) => setImmediate(resolve));
    waiting.shift()!.release(error);
  };
  return { fs, log, release };
}

const put = (id: string): StoreRecord[] => [{ kind: 'put', collection: 'decisions', id, value: { id } }];

/** Resolves once the event loop has turned a few times, so any work that could happen has. */
const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** Waits until the filesystem has seen `count` operations (real writes take their time). */
const until = async (log: string[], count: number) => {
  while (log.length < count) await new Promise((resolve) => setTimeout(resolve, 1));
  await settle();
};

describe('pipelined group commit', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'conveyor-pipeline-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('writes the next batch while the previous fsync is in flight, and answers each only after an fsync covering it', async () => {
    const { fs, log, release } = heldFsyncs();
    const store = new EmbeddedStore({ dir: root, fs });
    await store.load();
    const answered: string[] = [];
    const first = store.commit(put('a')).then((seq) => answered.push(`a@${seq}`));
    await until(log, 2);
    const second = store.commit(put('b')).then((seq) => answered.push(`b@${seq}`));
    const third = store.commit(put('c')).then((seq) => answered.push(`c@${seq}`));
    await until(log, 3);
    // The second batch (b and c) is on the file while the first fsync has not returned; nobody is answered.
    expect(log).toEqual(['write seq 1', 'fsync started', 'write seq 2']);
    expect(answered).toEqual([]);
    expect(store.get('decisions', 'a')).toBeUndefined();

    await release();
    await first;
    await until(log, 4);
    // a is durable; b and c wait for the fsync that started after they were written.
    expect(answered).toEqual(['a@1']);
    expect(store.get('decisions', 'b')).toBeUndefined();
    expect(log).toEqual(['write seq 1', 'fsync started', 'write seq 2', 'fsync started']);

    await release();
    await Promise.all([second, third]);
    expect(answered).toEqual(['a@1', 'b@2', 'c@2']);
    expect(store.get('decisions', 'c')).toEqual({ id: 'c' });
    await store.close();
  });

  it('refuses a batch whose fsync fails and every batch written after it, cuts them from the journal, and goes on', async () => {
    const { fs, log, release } = heldFsyncs();
    const store = new EmbeddedStore({ dir: root, fs });
    await store.load();
    const first = store.commit(put('a')).then((seq) => seq, (error: Error) => error.name);
    await until(log, 2);
    const second = store.commit(put('b')).then((seq) => seq, (error: Error) => error.name);
    await until(log, 3);
    await release(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    expect(await first).toBe('StoreWriteError');
    expect(await second).toBe('StoreWriteError');
    expect(store.get('decisions', 'a')).toBeUndefined();
    expect(store.get('decisions', 'b')).toBeUndefined();

    const third = store.commit(put('c'));
    await release();
    expect(await third).toBe(1);
    const lines = (await readFile(join(root, 'journal.jsonl'), 'utf8')).split('\n').filter(Boolean);
    expect(lines.map((line) => JSON.parse(line) as { seq: number; records: { id: string }[] }).map((b) => [b.seq, b.records[0]!.id])).toEqual([[1, 'c']]);
    await store.close();
  });

  // The batch written between the failed fsync and the drain's noticing it went onto a reopened journal;
  // refused, it stayed in the file, and the next batch (taking its seq again) made the journal unreadable.
  it('cuts a batch written just after an fsync failed, so the journal still reads back after the refusal', async () => {
    const { fs, log, release } = heldFsyncs();
    const store = new EmbeddedStore({ dir: root, fs });
    await store.load();
    const first = store.commit(put('a')).then((seq) => seq, (error: Error) => error.name);
    await until(log, 2);
    await release(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    const second = store.commit(put('b')).then((seq) => seq, (error: Error) => error.name);
    expect(await first).toBe('StoreWriteError');
    // b was written to the journal or refused before it was; either way it is not acknowledged yet.
    const third = store.commit(put('c')).then((seq) => seq, (error: Error) => error.name);
    await release();
    const answers = [await second, await third];

    // Reopened as after a crash: no final checkpoint, the journal as it stands.
    const reopened = new EmbeddedStore({ dir: root });
    await reopened.load();
    // What was acknowledged is there; what was refused is not.
    expect(reopened.get('decisions', 'a')).toBeUndefined();
    expect(reopened.get('decisions', 'b') !== undefined).toBe(typeof answers[0] === 'number');
    expect(reopened.get('decisions', 'c') !== undefined).toBe(typeof answers[1] === 'number');
    await reopened.close();
    await store.close();
  });
});
