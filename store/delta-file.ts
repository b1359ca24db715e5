import { dirname } from 'node:path';
import { StoreWriteError } from './errors.ts';
import { appendFlushing, cutBack, type AppendFile, type FileSystem } from './file-system.ts';

/**
 * The file of delta checkpoints: one line each, counted only once an fsync covering it returned, emptied when a
 * base checkpoint holds them all. What lies past the last counted line (a torn line, or an append whose fsync
 * failed) is cut off before the next append.
 */
export class DeltaFile {
  readonly #fs: FileSystem;
  readonly #file: string;
  #handle: AppendFile | null = null;
  #exists: boolean;
  /** Bytes of lines that count. */
  #counted: number;
  /** The file may hold bytes past #counted. */
  #dirty: boolean;

  constructor(fs: FileSystem, file: string, read: { exists: boolean; validBytes: number; tornBytes: number }) {
    this.#fs = fs;
    this.#file = file;
    this.#exists = read.exists;
    this.#counted = read.validBytes;
    this.#dirty = read.tornBytes > 0;
  }

  /**
   * Appends one line, given in pieces, and makes it durable, its directory entry too when this creates the file.
   * A crash partway leaves a line without its newline, which a load ignores and the next append cuts.
   */
  async append(line: readonly Uint8Array[]): Promise<{ ok: true } | { ok: false; error: StoreWriteError }> {
    try {
      const handle = await this.#ready();
      await appendFlushing(handle, line);
      await handle.datasync();
      this.#counted += line.reduce((n, piece) => n + piece.length, 0);
      return { ok: true };
    } catch (error) {
      await this.#drop();
      return { ok: false, error: new StoreWriteError(this.#file, error) };
    }
  }

  /** Empties the file once a base checkpoint holds every line of it; if that fails, the next append empties it first. */
  async clear(): Promise<void> {
    // Every line is at or before the base's seq: a load skips them, so none has to stay.
    this.#counted = 0;
    this.#dirty = true;
    if (!this.#exists) return;
    try {
      await (await this.#ready()).sync();
    } catch {
      await this.#drop();
    }
  }

  async close(): Promise<void> {
    const handle = this.#handle;
    this.#handle = null;
    await handle?.close().catch(() => undefined);
  }

  async #ready(): Promise<AppendFile> {
    if (this.#handle === null) {
      this.#handle = await this.#fs.openAppend(this.#file);
      this.#dirty = true;
      // A delta in a file whose name a power cut can take is no checkpoint: the journal it covers is emptied after it.
      if (!this.#exists) await this.#fs.fsync(dirname(this.#file));
      this.#exists = true;
    }
    if (this.#dirty) {
      await cutBack(this.#handle, this.#counted, this.#file);
      this.#dirty = false;
    }
    return this.#handle;
  }

  // After a failure the descriptor may be unusable; the next append reopens and cuts.
  async #drop(): Promise<void> {
    const handle = this.#handle;
    this.#handle = null;
    this.#dirty = true;
    await handle?.close().catch(() => undefined);
  }
}
