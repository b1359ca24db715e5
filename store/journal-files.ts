import { join } from 'node:path';
import { StoreCorruptError, type StoreReadError } from './errors.ts';
import type { FileSystem } from './file-system.ts';
import { scanJournal, type JournalBatch } from './journal.ts';

/**
 * The journal is two files used in turn. A checkpoint switches appends to the other one (emptied first) and
 * is written while commits go on there; once it is durable, the file it covers is emptied. So a checkpoint
 * never waits for the journal, and the journal never loses a line the checkpoint does not hold.
 */
export const JOURNAL_FILES = ['journal.jsonl', 'journal.alt.jsonl'] as const;

/** What reading both journal files found: the batches after the checkpoint in order, and where appends go. */
export type JournalFilesRead =
  | {
      ok: true;
      batches: JournalBatch[];
      /** The file to append to: the one holding the newest batch. */
      active: { file: string; exists: boolean; validBytes: number; tornBytes: number };
      /** The other file, and the newest seq it holds (0 if none). */
      other: { file: string; lastSeq: number };
    }
  | { ok: false; error: StoreCorruptError | StoreReadError };

/** Reads both journal files of `dir`; the batches after `afterSeq` must continue it without a gap. */
export async function readJournalFiles(fs: FileSystem, dir: string, afterSeq: number): Promise<JournalFilesRead> {
  const files = JOURNAL_FILES.map((name) => join(dir, name));
  const scans = [];
  for (const file of files) {
    const scan = await scanJournal(fs, file);
    if (!scan.ok) return scan;
    scans.push({ file, ...scan, lastSeq: scan.batches.at(-1)?.seq ?? 0 });
  }
  // The file holding the newest line is the one written last; on a tie (both empty) the first.
  const [a, b] = scans as [(typeof scans)[0], (typeof scans)[0]];
  const [older, newer] = b.lastSeq > a.lastSeq ? [a, b] : [b, a];
  const batches: JournalBatch[] = [];
  for (const scan of [older, newer]) {
    for (const [i, batch] of scan.batches.entries()) {
      if (batch.seq <= afterSeq) continue;
      // Lines at or before the checkpoint are left over; the rest must continue it, across both files.
      const expected = (batches.at(-1)?.seq ?? afterSeq) + 1;
      if (batch.seq !== expected) {
        return { ok: false, error: new StoreCorruptError(scan.file, scan.offsets[i]!, `line ${i + 1}: seq ${batch.seq} does not follow seq ${expected - 1}`) };
      }
      batches.push(batch);
    }
  }
  return {
    ok: true,
    batches,
    active: { file: newer.file, exists: newer.exists, validBytes: newer.validBytes, tornBytes: newer.tornBytes },
    other: { file: older.file, lastSeq: older.lastSeq },
  };
}
