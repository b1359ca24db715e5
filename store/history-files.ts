import { join } from 'node:path';
import { StoreCorruptError, StoreWriteError } from './errors.ts';
import type { AppendFile, FileSystem } from './file-system.ts';
import { HISTORY_FILES, type HistoryFileName, type HistoryLocation, type HistorySeal } from './history-index.ts';
import type { HistoryEntry, HistoryRange } from './types.ts';

// A compaction copies the live entries in writes of about this size: the event loop runs while each is written,
// and is held while its ranges are read (each a positional read of 14 us or so: 45 ms a MiB of 330-byte ranges).
const COPY_BYTES = 128 * 1024;

/**
 * The history files of a data directory: entries are appended as JSON lines by checkpoints, fsynced before
 * the checkpoint that indexes them is renamed into place. Bytes past the length the checkpoint on disk
 * records belong to a checkpoint that never landed (their entries are still in the journal): opening cuts
 * them, so an entry is never lost and never there twice.
 */
export class HistoryFiles {
  readonly #fs: FileSystem;
  readonly #dir: string;
  /** The file appends go to, once opened. */
  #handle: AppendFile | null = null;
  /** The other file, while a compaction writes into it. */
  #compacted: AppendFile | null = null;
  /** The current file's durable length, as the checkpoint on disk records it. */
  #bytes = 0;
  #name: HistoryFileName = HISTORY_FILES[0];

  constructor(fs: FileSystem, dir: string) {
    this.#fs = fs;
    this.#dir = dir;
  }

  path(name: HistoryFileName): string {
    return join(this.#dir, name);
  }

  /** Checks the file a checkpoint names holds at least `bytes`, and cuts what lies past them. */
  async open(name: HistoryFileName, bytes: number): Promise<void> {
    const path = this.path(name);
    if (bytes === 0 && !(await this.#fs.exists(path))) {
      this.#name = name;
      this.#bytes = 0;
      return;
    }
    const file = await this.#fs.openAppend(path);
    const size = await file.size();
    if (size < bytes) {
      await file.close();
      throw new StoreCorruptError(path, size, `the checkpoint indexes ${bytes} bytes of history; the file holds ${size}`);
    }
    if (size > bytes) {
      await file.truncate(bytes);
      await file.sync();
    }
    this.#handle = file;
    this.#name = name;
    this.#bytes = bytes;
  }

  /**
   * A task's entries: its segments read from the file, then those still in memory; with a range, only the
   * segments that hold part of it are read, and only its lines parsed.
   */
  read(location: HistoryLocation, range: HistoryRange = { from: 0, count: Infinity }): HistoryEntry[] {
    const out: HistoryEntry[] = [];
    const path = this.path(location.file);
    const { segments } = location;
    const end = range.from + range.count;
    // The segments that hold part of the range, with the index of each one's first entry, read in one call.
    const wanted: { offset: number; length: number; count: number; first: number }[] = [];
    let first = 0;
    for (let i = 0; i < segments.length && first < end; i += 3) {
      const [offset, length, count] = [segments[i]!, segments[i + 1]!, segments[i + 2]!];
      if (first + count > range.from) wanted.push({ offset, length, count, first });
      first += count;
    }
    const read = wanted.length > 0 ? this.#fs.readRanges(path, wanted.map((w) => [w.offset, w.length] as const)) : [];
    for (const [w, { offset, length, count, first: at }] of wanted.entries()) {
      const bytes = read[w]!;
      if (bytes.length !== length) throw new StoreCorruptError(path, offset + bytes.length, `a history segment of ${length} bytes ends early`);
      const lines = bytes.toString('utf8').split('\n');
      // Each entry's line ends with a newline, so the text splits into count lines and an empty tail.
      if (lines.length !== count + 1 || lines[count] !== '') throw new StoreCorruptError(path, offset, `a history segment holds ${lines.length - 1} lines, the index says ${count}`);
      for (let n = Math.max(0, range.from - at); n < count && at + n < end; n++) {
        try {
          out.push(JSON.parse(lines[n]!) as HistoryEntry);
        } catch (error) {
          throw new StoreCorruptError(path, offset, `history line ${n + 1} of the segment is not JSON: ${(error as Error).message}`);
        }
      }
    }
    const from = Math.max(0, range.from - first);
    out.push(...location.memory.slice(from, Math.max(from, end - first)));
    return out;
  }

  /** Writes what a seal plans and fsyncs it: appended to the current file, or into the other one for a compaction. */
  async write(seal: HistorySeal): Promise<{ ok: true } | { ok: false; error: StoreWriteError }> {
    const path = this.path(seal.file);
    if (!seal.compact && seal.pieces.length === 0) return { ok: true };
    try {
      const file = seal.compact ? await this.#fresh(seal.file) : await this.#current();
      // In order: new lines, and ranges of the file in use to copy, read together once they are next to be written.
      let buffered: (Buffer | readonly [number, number])[] = [];
      let size = 0;
      const flush = async () => {
        if (size === 0) return;
        const ranges = buffered.filter((piece): piece is readonly [number, number] => !Buffer.isBuffer(piece));
        const copied = ranges.length > 0 ? this.#fs.readRanges(this.path(this.#name), ranges) : [];
        let r = 0;
        const bytes = buffered.map((piece) => {
          if (Buffer.isBuffer(piece)) return piece;
          const read = copied[r++]!;
          if (read.length !== piece[1]) throw new Error(`history: ${this.path(this.#name)} ends before byte ${piece[0] + piece[1]}`);
          return read;
        });
        await file.append(bytes.length === 1 ? bytes[0]! : Buffer.concat(bytes));
        buffered = [];
        size = 0;
      };
      for (const piece of seal.pieces) {
        buffered.push(piece);
        size += Buffer.isBuffer(piece) ? piece.length : piece[1];
        if (size >= COPY_BYTES) await flush();
      }
      await flush();
      await file.sync();
      if (seal.compact) await this.#fs.fsync(this.#dir);
      return { ok: true };
    } catch (error) {
      return { ok: false, error: new StoreWriteError(path, error) };
    }
  }

  /**
   * The seal's entries are filed: appends continue from its end, in its file. The file a compaction moved away from
   * is emptied, unless a checkpoint that indexes it may still be the one on disk (`keepPrevious`).
   */
  async committed(seal: HistorySeal, options: { keepPrevious?: boolean } = {}): Promise<void> {
    const previous = this.#handle;
    const moved = seal.file !== this.#name;
    this.#name = seal.file;
    this.#bytes = seal.bytes;
    if (!moved) return;
    this.#handle = this.#compacted;
    this.#compacted = null;
    if (options.keepPrevious === true) await previous?.close().catch(() => undefined);
    // The old file's entries are all copied or dead; emptied, it waits for the next compaction.
    else if (previous !== null) {
      await previous.truncate(0).then(() => previous.sync()).catch(() => undefined);
      await previous.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    const handles = [this.#handle, this.#compacted];
    this.#handle = null;
    this.#compacted = null;
    for (const handle of handles) await handle?.close().catch(() => undefined);
  }

  /** The current file, with whatever lies past its durable length (a seal that never landed) cut off. */
  async #current(): Promise<AppendFile> {
    if (this.#handle === null) {
      this.#handle = await this.#fs.openAppend(this.path(this.#name));
      // Perhaps created now: its name must survive a power cut with the checkpoint that indexes it.
      await this.#fs.fsync(this.#dir);
    }
    const size = await this.#handle.size();
    if (size < this.#bytes) throw new Error(`history holds ${size} bytes, ${this.#bytes} were written`);
    if (size > this.#bytes) await this.#handle.truncate(this.#bytes);
    return this.#handle;
  }

  /** The other file, emptied, for a compaction to write into. */
  async #fresh(name: HistoryFileName): Promise<AppendFile> {
    await this.#compacted?.close().catch(() => undefined);
    this.#compacted = await this.#fs.openAppend(this.path(name));
    await this.#compacted.truncate(0);
    return this.#compacted;
  }
}
