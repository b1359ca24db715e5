import { describe, expect, it } from 'vitest';
import { HistoryIndex } from '../../store/history-index.ts';
import type { HistoryEntry } from '../../store/index.ts';

const entry = (n: number): HistoryEntry => ({ at: n, source: 'webhook', event: { type: 'ci.status', url: `https://ci.test/${n}` }, accepted: true, from: 'review', to: 'review' });

/** One checkpoint: every task takes `perTask` entries, then the seal is written and committed; says whether it compacted. */
async function checkpoint(index: HistoryIndex, tasks: number, perTask: number, compactAfterBytes: number, n: { at: number }): Promise<boolean> {
  for (let t = 0; t < tasks; t++) for (let k = 0; k < perTask; k++) index.add(`t${t}`, entry(n.at++));
  const seal = await index.seal(compactAfterBytes);
  index.commit(seal);
  return seal.compact;
}

describe('the history index', () => {
  it('copies a large file of scattered segments only once a quarter of its size was appended since the last copy', async () => {
    const index = new HistoryIndex();
    const n = { at: 0 };
    // A long history first, written whole: a file far larger than compactAfterBytes (1 byte here).
    await checkpoint(index, 10, 400, 1, n);
    const compactions: number[] = [];
    for (let c = 1; c <= 400; c++) if (await checkpoint(index, 10, 1, 1, n)) compactions.push(c);
    // Never copied yet, the file is copied as soon as its segments pile up (past 8 a task and 64: the 15th); from
    // then on a quarter more (100 checkpoints of one entry a task, 400 each held) must be appended first.
    expect(compactions[0]).toBe(15);
    expect(compactions.length).toBeGreaterThanOrEqual(3);
    expect(compactions.length).toBeLessThanOrEqual(5);
    for (let i = 1; i < compactions.length; i++) expect(compactions[i]! - compactions[i - 1]!).toBeGreaterThanOrEqual(90);
    expect(index.entries).toBe(10 * 800);
  });

  it('compacts scattered segments at once while the live entries are small', async () => {
    const index = new HistoryIndex();
    const n = { at: 0 };
    const compactions: number[] = [];
    for (let c = 1; c <= 100; c++) if (await checkpoint(index, 3, 1, 64 * 2 ** 20, n)) compactions.push(c);
    // Past 8 a task and 64 segments in all (88 here) the next checkpoint folds them.
    expect(compactions).toEqual([31, 61, 91]);
  });
});
