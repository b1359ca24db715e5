import { closeSync, openSync, readSync } from 'node:fs';
import { mkdir, open, readFile, rename, stat, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';

/** A file opened for appending: the journal's handle. */
export interface AppendFile {
  append(data: Uint8Array): Promise<void>;
  /** Flushes the file's data (not necessarily its metadata). */
  datasync(): Promise<void>;
  /** Flushes the file's data and metadata. */
  sync(): Promise<void>;
  truncate(length: number): Promise<void>;
  size(): Promise<number>;
  close(): Promise<void>;
}

/**
 * Every file operation conveyor makes under its data directory: the store's journal and checkpoint,
 * job reason files, working directories. Production uses the node filesystem; the simulator one
 * whose unsynced writes a crash drops (ARCHITECTURE invariant 7). Errors carry node's `code`
 * (`ENOENT`, `ENOSPC`, `EIO`).
 */
export interface FileSystem {
  readFile(path: string): Promise<Buffer>;
  /**
   * Reads each `[position, length]` range without yielding (fewer bytes at the end of the file), the file opened
   * once for all of them: a task's history is read on demand this way, so reading it stays a plain call for the
   * API, the CLI and the sweeps, and a compaction copies many tasks' segments per call.
   */
  readRanges(path: string, ranges: readonly (readonly [number, number])[]): Buffer[];
  /** Creates or replaces a file's content; not durable until fsync. */
  writeFile(path: string, data: string | Uint8Array): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** Makes a directory and its parents; resolves to the first directory created, if any. */
  mkdirp(path: string): Promise<string | undefined>;
  exists(path: string): Promise<boolean>;
  openAppend(path: string): Promise<AppendFile>;
  /** Flushes a file or a directory (its entries) to disk. */
  fsync(path: string): Promise<void>;
}

class NodeAppendFile implements AppendFile {
  constructor(private readonly handle: FileHandle) {}
  append(data: Uint8Array): Promise<void> {
    return this.handle.appendFile(data);
  }
  datasync(): Promise<void> {
    return this.handle.datasync();
  }
  sync(): Promise<void> {
    return this.handle.sync();
  }
  truncate(length: number): Promise<void> {
    return this.handle.truncate(length);
  }
  async size(): Promise<number> {
    return (await this.handle.stat()).size;
  }
  close(): Promise<void> {
    return this.handle.close();
  }
}

const FLUSH_BYTES = 2 ** 20;

/**
 * Cuts an appended file back to the bytes that count (what lies past them was refused, or torn by a crash).
 * Truncating up would pad with zeros: a file shorter than what counted is not the one that was written.
 */
export async function cutBack(handle: AppendFile, counted: number, file: string): Promise<void> {
  const size = await handle.size();
  if (size < counted) throw new Error(`${file} holds ${size} bytes, ${counted} were made durable`);
  if (size > counted) await handle.truncate(counted);
}

/**
 * Appends pieces in turn, flushing each MiB's data as it goes; the caller flushes the rest. One fsync of a large
 * write holds up every fsync of the journal behind it (ext4 commits them together); many small ones, a little each.
 */
export async function appendFlushing(handle: AppendFile, pieces: readonly Uint8Array[]): Promise<void> {
  let unflushed = 0;
  for (const piece of pieces) {
    await handle.append(piece);
    unflushed += piece.length;
    if (unflushed < FLUSH_BYTES) continue;
    await handle.datasync();
    unflushed = 0;
  }
}

/** The node filesystem. */
export const nodeFileSystem: FileSystem = {
  readFile: (path) => readFile(path),
  readRanges: (path, ranges) => {
    const fd = openSync(path, 'r');
    try {
      return ranges.map(([position, length]) => {
        const buffer = Buffer.allocUnsafe(length);
        let read = 0;
        while (read < length) {
          const n = readSync(fd, buffer, read, length - read, position + read);
          if (n === 0) break;
          read += n;
        }
        return buffer.subarray(0, read);
      });
    } finally {
      closeSync(fd);
    }
  },
  writeFile: (path, data) => writeFile(path, data),
  rename: (from, to) => rename(from, to),
  mkdirp: (path) => mkdir(path, { recursive: true }),
  exists: (path) => stat(path).then(() => true, () => false),
  openAppend: async (path) => new NodeAppendFile(await open(path, 'a')),
  fsync: async (path) => {
    const handle = await open(path, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
};
