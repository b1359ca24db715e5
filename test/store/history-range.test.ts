import { describe, expect, it } from 'vitest';
import { nodeFileSystem, type FileSystem, type HistoryEntry } from '../../store/index.ts';
import { tempStores } from '../support/temp-stores.ts';

const entry = (n: number): HistoryEntry => ({ at: n, source: 'webhook', event: { type: 'ci.status', url: `https://ci.test/${n}` }, accepted: true, from: 'review', to: 'review' });

/** The node filesystem, counting the bytes a history read takes from disk. */
function countingFs(): { fs: FileSystem; read: { bytes: number } } {
  const read = { bytes: 0 };
  const fs: FileSystem = {
    ...nodeFileSystem,
    readRanges: (path, ranges) => {
      const pieces = nodeFileSystem.readRanges(path, ranges);
      for (const bytes of pieces) read.bytes += bytes.length;
      return pieces;
    },
  };
  return { fs, read };
}

describe('a slice of a task\'s history', () => {
  const stores = tempStores('conveyor-history-range-');

  it('is the same entries as the whole history sliced, from the file and from memory, reading only the segments that hold it', async () => {
    const { fs, read } = countingFs();
    // A checkpoint every 20 records: the task's entries land in the history file in several segments.
    const store = await stores.open({ fs, checkpointEvery: 20 });
    for (let n = 0; n < 200; n++) await store.commit([{ kind: 'history', taskId: 't1', entry: entry(n) }, { kind: 'history', taskId: 't2', entry: entry(n) }]);
    await store.close();
    const reopened = await stores.open({ fs });
    // A few more that only the journal and the memory hold.
    for (let n = 200; n < 205; n++) await reopened.commit([{ kind: 'history', taskId: 't1', entry: entry(n) }]);

    read.bytes = 0;
    const whole = reopened.getHistory('t1');
    const wholeBytes = read.bytes;
    expect(whole.map((e) => e.at)).toEqual(Array.from({ length: 205 }, (_, n) => n));
    for (const [from, count] of [[0, 10], [15, 30], [99, 1], [190, 20], [200, 5], [203, 100], [205, 10], [0, 1000]] as const) {
      expect(reopened.getHistory('t1', { from, count }), `from ${from}, count ${count}`).toEqual(whole.slice(from, from + count));
    }

    // The last page reads a sliver of the file; the first one too.
    read.bytes = 0;
    reopened.getHistory('t1', { from: 195, count: 10 });
    expect(read.bytes).toBeLessThan(wholeBytes / 4);
    read.bytes = 0;
    reopened.getHistory('t1', { from: 0, count: 5 });
    expect(read.bytes).toBeLessThan(wholeBytes / 4);
  });
});
