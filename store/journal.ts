import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { recordProblem } from './apply.ts';
import { StoreCorruptError, StoreReadError, StoreWriteError } from './errors.ts';
import { appendFlushing, cutBack, type AppendFile, type FileSystem } from './file-system.ts';
import { byteOffset, decodeUtf8, parseJson } from './json-position.ts';
import type { StoreRecord } from './types.ts';

/** One line of journal.jsonl: the records of one commit batch. */
export interface JournalBatch {
  seq: number;
  records: StoreRecord[];
}

/** What reading the journal found: the batches to replay, or why it cannot be used. */
export type JournalRead =
  | {
      ok: true;
      exists: boolean;
      batches: JournalBatch[];
      /** Bytes up to the end of the last complete line. */
      validBytes: number;
      /** Bytes of an unfinished last line, to be cut off before the next append. */
      tornBytes: number;
    }
  | { ok: false; error: StoreCorruptError | StoreReadError };

const NEWLINE = 0x0a;

/** What scanning a file of JSON lines found: every complete line's value, in order, or why it cannot be used. */
export type LineScan<T> =
  | { ok: true; exists: boolean; values: T[]; validBytes: number; tornBytes: number; /** Where each line starts. */ offsets: number[] }
  | { ok: false; error: StoreCorruptError | StoreReadError };

/**
 * Reads every complete line of a file of JSON lines, each checked by `problemOf` (given the line before's
 * value); never writes to the file. A last line without its newline is torn: it was never acknowledged.
 */
export async function scanLines<T>(fs: FileSystem, file: string, problemOf: (value: unknown, previous: T | undefined) => string | undefined): Promise<LineScan<T>> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, exists: false, values: [], validBytes: 0, tornBytes: 0, offsets: [] };
    return { ok: false, error: new StoreReadError(file, error) };
  }
  const values: T[] = [];
  const offsets: number[] = [];
  let start = 0;
  for (let line = 1; start < bytes.length; line++) {
    const end = bytes.indexOf(NEWLINE, start);
    // A line is complete only with its newline: it was written in one write and acknowledged after fsync.
    if (end === -1) return { ok: true, exists: true, values, validBytes: start, tornBytes: bytes.length - start, offsets };
    const corrupt = (at: number, reason: string) =>
      ({ ok: false, error: new StoreCorruptError(file, start + at, `line ${line}: ${reason}`) }) as const;
    const decoded = decodeUtf8(bytes.subarray(start, end));
    if (!decoded.ok) return corrupt(decoded.offset, 'invalid UTF-8');
    const parsed = parseJson(decoded.text);
    if (!parsed.ok) return corrupt(byteOffset(decoded.text, parsed.position), parsed.reason);
    const problem = problemOf(parsed.value, values.at(-1));
    if (problem !== undefined) return corrupt(0, problem);
    values.push(parsed.value as T);
    offsets.push(start);
    start = end + 1;
  }
  return { ok: true, exists: true, values, validBytes: start, tornBytes: 0, offsets };
}

/** What scanning a journal file found: all its batches, in order, or why it cannot be used. */
export type JournalScan =
  | { ok: true; exists: boolean; batches: JournalBatch[]; validBytes: number; tornBytes: number; /** Where each batch's line starts. */ offsets: number[] }
  | { ok: false; error: StoreCorruptError | StoreReadError };

/** Reads every complete line of a journal file, checking each follows the one before; never writes to the file. */
export async function scanJournal(fs: FileSystem, file: string): Promise<JournalScan> {
  const scan = await scanLines<JournalBatch>(fs, file, (value, previous) => {
    const problem = shapeProblem(value);
    if (problem !== undefined || previous === undefined) return problem;
    const { seq } = value as JournalBatch;
    return seq === previous.seq + 1 ? undefined : `seq ${seq} follows seq ${previous.seq}`;
  });
  if (!scan.ok) return scan;
  const { values: batches, ...rest } = scan;
  return { ...rest, batches };
}

/** Reads a journal file and returns the batches after afterSeq, which must continue it; never writes to the file. */
export async function readJournal(fs: FileSystem, file: string, afterSeq: number): Promise<JournalRead> {
  const scan = await scanJournal(fs, file);
  if (!scan.ok) return scan;
  // Lines at or before the checkpoint are left over from a restart that did not finish; the rest must continue it.
  const first = scan.batches.findIndex((b) => b.seq > afterSeq);
  if (first === -1) return { ok: true, exists: scan.exists, batches: [], validBytes: scan.validBytes, tornBytes: scan.tornBytes };
  const batch = scan.batches[first]!;
  if (batch.seq !== afterSeq + 1) {
    return { ok: false, error: new StoreCorruptError(file, scan.offsets[first]!, `line ${first + 1}: seq ${batch.seq} does not follow the checkpoint at seq ${afterSeq}`) };
  }
  return { ok: true, exists: scan.exists, batches: scan.batches.slice(first), validBytes: scan.validBytes, tornBytes: scan.tornBytes };
}

/**
 * Appends batches to journal.jsonl and fsyncs them, as two steps so a batch can be written while the fsync of
 * the one before is in flight; cuts off whatever a failed write or fsync left past the last fsynced byte.
 */
export class JournalWriter {
  readonly #fs: FileSystem;
  #file: string;
  #handle: AppendFile | null = null;
  /** Bytes an fsync that returned covers: complete lines, durable. */
  #synced: number;
  /** Bytes of complete lines written, synced or not. */
  #written: number;
  /** The file may hold bytes past #synced that no longer count (a torn line, or a write or fsync that failed). */
  #dirty: boolean;

  private constructor(fs: FileSystem, file: string, size: number, dirty: boolean) {
    this.#fs = fs;
    this.#file = file;
    this.#synced = size;
    this.#written = size;
    this.#dirty = dirty;
  }

  /** Opens the journal for appending after a read; creates it (durably) when it did not exist. */
  static async open(fs: FileSystem, file: string, read: { exists: boolean; validBytes: number; tornBytes: number }): Promise<JournalWriter> {
    const writer = new JournalWriter(fs, file, read.validBytes, read.tornBytes > 0);
    writer.#handle = await fs.openAppend(file);
    if (!read.exists) await fs.fsync(dirname(file));
    return writer;
  }

  /**
   * Writes one complete line (or its pieces, in turn), not yet durable: the next sync() that starts after this
   * resolves covers it. A line cut short by a crash has no newline: a load ignores it and the next write cuts it.
   */
  async write(line: Buffer | readonly Uint8Array[]): Promise<{ ok: true } | { ok: false; error: StoreWriteError }> {
    try {
      const handle = await this.#ready();
      if (Buffer.isBuffer(line)) await handle.append(line);
      else await appendFlushing(handle, line);
      this.#written += Buffer.isBuffer(line) ? line.length : line.reduce((n, piece) => n + piece.length, 0);
      return { ok: true };
    } catch (error) {
      await this.#drop();
      return { ok: false, error: new StoreWriteError(this.#file, error) };
    }
  }

  /** Makes every line written before this call durable; says how long the fsync took, in milliseconds. */
  async sync(): Promise<{ ok: true; fsyncMs: number } | { ok: false; error: StoreWriteError }> {
    const covers = this.#written;
    try {
      // After a failure the lines past the last fsync are being refused; syncing them would acknowledge them.
      const handle = this.#dirty ? null : this.#handle;
      if (handle === null) throw new Error('the journal was cut back after a failed write');
      const syncing = performance.now();
      await handle.datasync();
      this.#synced = Math.max(this.#synced, covers);
      return { ok: true, fsyncMs: performance.now() - syncing };
    } catch (error) {
      await this.#drop();
      return { ok: false, error: new StoreWriteError(this.#file, error) };
    }
  }

  /**
   * Everything past the last fsync that returned is refused: the next write cuts it off first. A batch may
   * have been written after a failed fsync, onto a reopened file, before its refusal was known.
   */
  discardUnsynced(): void {
    this.#dirty = true;
  }

  /** The file appends go to. */
  get file(): string {
    return this.#file;
  }

  /**
   * Moves appends to another file, emptied first; call it with no write awaiting its fsync (refused lines past the
   * last fsync are cut off first). On failure the writer stays on its file.
   */
  async rotate(file: string): Promise<{ ok: true } | { ok: false; error: StoreWriteError }> {
    let handle: AppendFile | null = null;
    try {
      // Refused lines past the last fsync go first: left behind, a load would read them as the newest.
      if (this.#dirty) await (await this.#ready()).sync();
      handle = await this.#fs.openAppend(file);
      await handle.truncate(0);
      await handle.sync();
      await this.#fs.fsync(dirname(file));
    } catch (error) {
      await handle?.close().catch(() => undefined);
      return { ok: false, error: new StoreWriteError(file, error) };
    }
    const previous = this.#handle;
    this.#handle = handle;
    this.#file = file;
    this.#synced = 0;
    this.#written = 0;
    this.#dirty = false;
    await previous?.close().catch(() => undefined);
    return { ok: true };
  }

  /** Empties a journal file this writer does not append to, once a checkpoint holds everything in it. */
  static async clear(fs: FileSystem, file: string): Promise<{ ok: true } | { ok: false; error: StoreWriteError }> {
    try {
      if (!(await fs.exists(file))) return { ok: true };
      const handle = await fs.openAppend(file);
      try {
        await handle.truncate(0);
        await handle.sync();
      } finally {
        await handle.close();
      }
      return { ok: true };
    } catch (error) {
      return { ok: false, error: new StoreWriteError(file, error) };
    }
  }

  /** Empties the file once a checkpoint holds everything in it. */
  async restart(): Promise<{ ok: true } | { ok: false; error: StoreWriteError }> {
    // No line has to stay: after a failure the next write cuts them all.
    this.#synced = 0;
    this.#written = 0;
    this.#dirty = true;
    try {
      await (await this.#ready()).sync();
      return { ok: true };
    } catch (error) {
      // The old lines are all at or before the checkpoint's seq, so a load skips them; nothing is lost.
      await this.#drop();
      return { ok: false, error: new StoreWriteError(this.#file, error) };
    }
  }

  /** Releases the file. */
  async close(): Promise<void> {
    const handle = this.#handle;
    this.#handle = null;
    await handle?.close();
  }

  async #ready(): Promise<AppendFile> {
    if (this.#handle === null) {
      this.#handle = await this.#fs.openAppend(this.#file);
      this.#dirty = true;
    }
    if (this.#dirty) {
      // What was written after the last fsync that returned was refused to its callers: it goes.
      await cutBack(this.#handle, this.#synced, this.#file);
      this.#written = this.#synced;
      this.#dirty = false;
    }
    return this.#handle;
  }

  // After a failure the descriptor may be unusable; the next write reopens and trims.
  async #drop(): Promise<void> {
    const handle = this.#handle;
    this.#handle = null;
    this.#dirty = true;
    try {
      await handle?.close();
    } catch {
      // Closing an already broken descriptor can fail too; it is released either way.
    }
  }
}

function shapeProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'expected an object { seq, records }';
  const { seq, records } = value as { seq?: unknown; records?: unknown };
  if (!Number.isSafeInteger(seq) || (seq as number) < 1) return 'seq is not a positive integer';
  if (!Array.isArray(records)) return 'records is not a list';
  for (const [i, record] of records.entries()) {
    const problem = recordProblem(record);
    if (problem !== undefined) return `records[${i}] ${problem}`;
  }
  return undefined;
}
