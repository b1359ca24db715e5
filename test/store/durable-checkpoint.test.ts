import { describe, expect, it } from 'vitest';
import { captureCheckpoint, CheckpointWriter } from '../../store/checkpoint.ts';
import { readCheckpoint } from '../../store/checkpoint-read.ts';
import { noTurns } from '../../store/turn-taker.ts';
import { emptyDoc, type StoreDoc } from '../../store/index.ts';
import { CrashFs } from '../support/crash-fs.ts';

const DIR = '/data';
const FILE = '/data/checkpoint.json';

const prepared = async (seq: number, doc: StoreDoc) => captureCheckpoint(seq, doc)((await doc.history.seal(Infinity)).index, noTurns, null);

/** The checkpoint an earlier run left on disk: seq 1, one delivery seen. */
async function withOldCheckpoint(): Promise<CrashFs> {
  const fs = new CrashFs();
  const doc = emptyDoc();
  doc.deliveries.add('old-delivery', 1);
  fs.seed(FILE, Buffer.concat((await prepared(1, doc)).pieces).toString());
  return fs;
}

async function seqOnDisk(fs: CrashFs): Promise<number | string> {
  const read = await readCheckpoint(fs, DIR);
  if (!read.ok) return `unreadable: ${read.error.message}`;
  return read.checkpoint?.seq ?? 'missing';
}

describe('the checkpoint on a disk that loses what was not fsynced', () => {
  it('holds the old checkpoint or the new one, whole, wherever the power is cut', async () => {
    const newDoc = emptyDoc();
    newDoc.deliveries.add('new-delivery', 2);
    let completed = false;
    for (let cut = 0; !completed; cut++) {
      expect(cut, 'the write finishes within a few steps').toBeLessThan(20);
      for (const keepEntries of [true, false]) {
        const fs = await withOldCheckpoint();
        fs.cutAfter(cut);
        const written = await new CheckpointWriter(fs, FILE).write(await prepared(2, newDoc));
        fs.crash({ keepEntries });
        const seq = await seqOnDisk(fs);
        // Once write() said ok, the journal before seq 2 may be dropped: only the new checkpoint will do.
        if (written.ok) expect(seq, `power cut after ${cut} steps, the write reported ok`).toBe(2);
        else expect([1, 2], `power cut after ${cut} steps (${fs.ops.join('; ')})`).toContain(seq);
        if (written.ok && keepEntries) completed = true;
      }
    }
  });

  it('fsyncs the temp file before renaming it into place, and the directory after', async () => {
    const fs = await withOldCheckpoint();
    const written = await new CheckpointWriter(fs, FILE).write(await prepared(2, emptyDoc()));
    expect(written.ok).toBe(true);
    const temp = fs.ops.find((op) => op.startsWith('write '))!.slice('write '.length);
    const at = (op: string) => fs.ops.indexOf(op);
    expect(at(`fsync ${temp}`)).toBeGreaterThan(at(`write ${temp}`));
    expect(at(`rename ${temp} ${FILE}`)).toBeGreaterThan(at(`fsync ${temp}`));
    expect(at(`fsync ${DIR}`)).toBeGreaterThan(at(`rename ${temp} ${FILE}`));
  });
});
