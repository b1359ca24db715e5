import { basename, dirname, join } from 'node:path';
import { applyRecord, emptyDoc } from './apply.ts';
import { readCheckpoint } from './checkpoint-read.ts';
import { CHECKPOINT_FILE } from './checkpoint.ts';
import type { StoreCorruptError, StoreReadError } from './errors.ts';
import { nodeFileSystem, type FileSystem } from './file-system.ts';
import { JOURNAL_FILES, readJournalFiles } from './journal-files.ts';

/** Where reading a store file stopped: the byte, the start of its line, and why. */
export interface FileProblem {
  file: string;
  offset: number;
  /** Start of the line holding the problem: what a repair would cut from. */
  lineStart: number;
  reason: string;
}

/** What `verifyStore` found in a data directory, without changing a byte of it. */
export interface StoreReport {
  dir: string;
  ok: boolean;
  /** The base checkpoint, and the deltas read after it (`deltaBytes` of them, in `deltasFile`). */
  checkpoint: { file: string; present: boolean; seq: number; bytes: number; deltasFile: string; deltaBytes: number } | { file: string; problem: FileProblem };
  journal:
    | { file: string; present: boolean; bytes: number; batches: number; records: number; firstSeq: number | null; lastSeq: number | null; tornBytes: number }
    | { file: string; bytes: number; problem: FileProblem };
  /** The history file the checkpoint indexes: its bytes, and how many the index covers (a load cuts the rest; fewer is damage). */
  history: { file: string; bytes: number; indexedBytes: number } | null;
  /** The document after replay: what conveyor would start with. */
  contents: { seq: number; tasks: number; historyEntries: number; decisions: number; jobs: number; effects: number; alerts: number } | null;
}

const size = async (fs: FileSystem, file: string) => (await fs.exists(file) ? (await fs.readFile(file)).length : 0);

async function problemOf(fs: FileSystem, error: StoreCorruptError | StoreReadError): Promise<FileProblem> {
  if (error.name !== 'StoreCorruptError') return { file: error.file, offset: 0, lineStart: 0, reason: error.message };
  const e = error as StoreCorruptError;
  const bytes = await fs.readFile(e.file);
  return { file: e.file, offset: e.offset, lineStart: e.offset === 0 ? 0 : bytes.lastIndexOf(0x0a, e.offset - 1) + 1, reason: e.reason };
}

/** Reads the checkpoint and the journal of an embedded store as a load would, and reports what it found. */
export async function verifyStore(dir: string, fs: FileSystem = nodeFileSystem): Promise<StoreReport> {
  const checkpointFile = join(dir, CHECKPOINT_FILE);
  const cp = await readCheckpoint(fs, dir);
  if (!cp.ok) {
    const journalFile = join(dir, JOURNAL_FILES[0]);
    const journalBytes = await size(fs, journalFile);
    return { dir, ok: false, checkpoint: { file: checkpointFile, problem: await problemOf(fs, cp.error) }, journal: { file: journalFile, present: journalBytes > 0, bytes: journalBytes, batches: 0, records: 0, firstSeq: null, lastSeq: null, tornBytes: 0 }, history: null, contents: null };
  }
  const seq0 = cp.checkpoint?.seq ?? 0;
  const checkpoint = { file: checkpointFile, present: cp.checkpoint !== null, seq: seq0, bytes: await size(fs, checkpointFile), deltasFile: cp.deltas.file, deltaBytes: cp.checkpoint?.deltaBytes ?? 0 };
  const index = (cp.checkpoint?.doc ?? emptyDoc()).history;
  const historyFile = join(dir, index.file);
  const history = { file: historyFile, bytes: await size(fs, historyFile), indexedBytes: index.bytes };
  const files = await readJournalFiles(fs, dir, seq0);
  if (!files.ok) {
    const problem = await problemOf(fs, files.error);
    return { dir, ok: false, checkpoint, journal: { file: problem.file, bytes: await size(fs, problem.file), problem }, history, contents: null };
  }
  // Appends go to the file holding the newest batch (the two files take turns across checkpoints).
  const journal = { ...files.active, batches: files.batches };
  const journalFile = journal.file;
  const journalBytes = await size(fs, journalFile);
  const doc = cp.checkpoint?.doc ?? emptyDoc();
  let records = 0;
  for (const batch of journal.batches) {
    for (const record of batch.records) applyRecord(doc, record);
    records += batch.records.length;
  }
  const count = (o: object) => Object.keys(o).length;
  return {
    dir,
    ok: history.bytes >= history.indexedBytes,
    checkpoint,
    history,
    journal: {
      file: journalFile, present: journal.exists, bytes: journalBytes, batches: journal.batches.length, records,
      firstSeq: journal.batches[0]?.seq ?? null, lastSeq: journal.batches.at(-1)?.seq ?? null, tornBytes: journal.tornBytes,
    },
    contents: {
      seq: journal.batches.at(-1)?.seq ?? seq0,
      tasks: count(doc.tasks),
      historyEntries: doc.history.entries,
      decisions: count(doc.collections.decisions),
      jobs: count(doc.collections.jobs),
      effects: count(doc.collections.effects),
      alerts: count(doc.collections.alerts),
    },
  };
}

/** What a repair did: the bytes it cut off the journal and where it kept them. */
export interface RepairResult {
  before: StoreReport;
  after: StoreReport;
  cut: { from: number; bytes: number; lines: number; savedTo: string } | null;
  /** Why nothing could be cut, when the damage is not a journal tail. */
  refused?: string;
}

/**
 * Cuts a journal's corrupt (or torn) tail, from the start of the first bad line to the end, after
 * saving the cut bytes beside the journal and fsyncing them. A corrupt checkpoint is not repaired.
 */
export async function repairStore(dir: string, now: number, fs: FileSystem = nodeFileSystem): Promise<RepairResult> {
  const before = await verifyStore(dir, fs);
  if ('problem' in before.checkpoint) return { before, after: before, cut: null, refused: `the checkpoint is damaged; cutting the journal cannot mend it (restore ${basename(before.checkpoint.problem.file)} from a backup)` };
  const j = before.journal;
  const from = 'problem' in j ? j.problem.lineStart : j.tornBytes > 0 ? j.bytes - j.tornBytes : null;
  if (from === null) return { before, after: before, cut: null };
  const file = 'problem' in j ? j.problem.file : j.file;
  const bytes = await fs.readFile(file);
  const tail = bytes.subarray(from);
  const savedTo = join(dirname(file), `${basename(file)}.cut-${new Date(now).toISOString().replace(/[:.]/g, '-')}`);
  await fs.writeFile(savedTo, tail);
  await fs.fsync(savedTo);
  await fs.fsync(dirname(savedTo));
  const handle = await fs.openAppend(file);
  try {
    await handle.truncate(from);
    await handle.sync();
  } finally {
    await handle.close();
  }
  const lines = tail.length === 0 ? 0 : tail.toString('utf8').split('\n').filter((l) => l !== '').length;
  return { before, after: await verifyStore(dir, fs), cut: { from, bytes: tail.length, lines, savedTo } };
}
