import { StoreWriteError } from './errors.ts';
import type { FileSystem } from './file-system.ts';
import { JournalWriter } from './journal.ts';

/**
 * The file of delta checkpoints: one line each, counted only once an fsync covering it returned, emptied when a
 * base checkpoint holds them all. It is written as the journal is (what lies past the last durable line, torn or
 * refused, is cut before the next append), but opened only when there is a delta to write: a store that never
 * writes one has no such file.
 */
export class DeltaFile {
  readonly #fs: FileSystem;
  readonly #file: string;
  readonly #read: { exists: boolean; validBytes: number; tornBytes: number };
  #writer: JournalWriter | null = null;

  constructor(fs: FileSystem, file: string, read: { exists: boolean; validBytes: number; tornBytes: number }) {
    this.#fs = fs;
    this.#file = file;
    this.#read = read;
  }

  /** Appends one line, given in pieces, and makes it durable, its directory entry too when this creates the file. */
  async append(line: readonly Uint8Array[]): Promise<{ ok: true } | { ok: false; error: StoreWriteError }> {
    const writer = await this.#open();
    if (!writer.ok) return writer;
    const written = await writer.writer.write(line);
    if (!written.ok) return written;
    const synced = await writer.writer.sync();
    return synced.ok ? { ok: true } : synced;
  }

  /** Empties the file once a base checkpoint holds every line of it; if that fails, the next append empties it first. */
  async clear(): Promise<void> {
    if (this.#writer === null && !this.#read.exists) return;
    const writer = await this.#open();
    if (writer.ok) await writer.writer.restart();
  }

  async close(): Promise<void> {
    await this.#writer?.close().catch(() => undefined);
  }

  async #open(): Promise<{ ok: true; writer: JournalWriter } | { ok: false; error: StoreWriteError }> {
    if (this.#writer !== null) return { ok: true, writer: this.#writer };
    const opened = await JournalWriter.open(this.#fs, this.#file, this.#read).then(
      (writer) => ({ ok: true as const, writer }),
      (error: unknown) => ({ ok: false as const, error: new StoreWriteError(this.#file, error) }),
    );
    if (opened.ok) this.#writer = opened.writer;
    return opened;
  }
}
