import { basename, dirname, join } from 'node:path';
import type { Adapter } from 'lowdb';
import { appendFlushing, type FileSystem } from './file-system.ts';

/**
 * lowdb's DataFile over conveyor's FileSystem seam, made durable: a read parses the file (null when
 * absent); a write puts the text in a temp file beside it, fsyncs it, renames it into place and fsyncs
 * the directory. steno (lowdb's own writer) renames without fsync, so after a power cut the rename can
 * survive with an empty file (ARCHITECTURE invariant 10).
 */
export class FsDataFile<T> implements Adapter<T> {
  readonly #temp: string;

  constructor(
    private readonly fs: FileSystem,
    private readonly file: string,
    private readonly format: { parse(text: string): T; serialize(data: T): readonly Uint8Array[] },
  ) {
    this.#temp = join(dirname(file), `.${basename(file)}.tmp`);
  }

  async read(): Promise<T | null> {
    try {
      return this.format.parse((await this.fs.readFile(this.file)).toString('utf8'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  /**
   * Serializes `data` (into pieces, written in turn: never joined into one buffer, a copy of the whole) before it
   * returns; once it resolves, the new content and its name are on disk.
   */
  async write(data: T): Promise<void> {
    const pieces = this.format.serialize(data);
    const handle = await this.fs.openAppend(this.#temp);
    try {
      await handle.truncate(0);
      await appendFlushing(handle, pieces);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await this.fs.rename(this.#temp, this.file);
    await this.fs.fsync(dirname(this.file));
  }
}
