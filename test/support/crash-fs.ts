import { dirname } from 'node:path';
import type { AppendFile, FileSystem } from '../../store/index.ts';

/** A file's content: what a read sees now, and what is on disk (as of its last fsync). */
interface Inode {
  data: Buffer;
  synced: Buffer;
}

const fail = (code: string, path: string) => Object.assign(new Error(`crash-fs: ${code}: ${path}`), { code });

/** Thrown by every operation once the simulated power is cut. */
export class PowerCut extends Error {
  override readonly name = 'PowerCut';
}

/**
 * An in-memory FileSystem that loses, at a simulated crash, what a real disk may lose: file data not
 * fsynced, and (when asked) directory entries not fsynced. Renames are the worst case by default: they
 * reach the disk before the data they point at, as on a journaling filesystem that orders metadata only.
 * `cutAfter(n)` cuts the power after n more operations, so a test can crash a writer at every step.
 */
export class CrashFs implements FileSystem {
  /** Directory entries as a read sees them, and as they are on disk. */
  #names = new Map<string, Inode>();
  #durableNames = new Map<string, Inode>();
  #left = Infinity;
  readonly ops: string[] = [];

  /** A file already on disk, as a previous run left it. */
  seed(path: string, text: string): void {
    const inode = { data: Buffer.from(text), synced: Buffer.from(text) };
    this.#names.set(path, inode);
    this.#durableNames.set(path, inode);
  }

  cutAfter(operations: number): void {
    this.#left = operations;
  }

  /** The power comes back: unsynced data is gone; unsynced renames stay only if `keepEntries` (the default). */
  crash(opts: { keepEntries?: boolean } = {}): void {
    this.#left = Infinity;
    if (opts.keepEntries === false) this.#names = new Map(this.#durableNames);
    for (const inode of this.#names.values()) inode.data = inode.synced;
    this.#durableNames = new Map(this.#names);
  }

  #step(op: string): void {
    if (this.#left <= 0) throw new PowerCut(`crash-fs: the power is cut (before ${op})`);
    this.#left--;
    this.ops.push(op);
  }

  async readFile(path: string): Promise<Buffer> {
    const inode = this.#names.get(path);
    if (!inode) throw fail('ENOENT', path);
    // A buffer of its own, as node's readFile returns (not a slice of a shared pool).
    const copy = Buffer.alloc(inode.data.length);
    inode.data.copy(copy);
    return copy;
  }

  readRanges(path: string, ranges: readonly (readonly [number, number])[]): Buffer[] {
    const inode = this.#names.get(path);
    if (!inode) throw fail('ENOENT', path);
    return ranges.map(([position, length]) => Buffer.from(inode.data.subarray(position, position + length)));
  }

  async writeFile(path: string, data: string | Uint8Array): Promise<void> {
    this.#step(`write ${path}`);
    const existing = this.#names.get(path);
    if (existing) existing.data = Buffer.from(data);
    else this.#names.set(path, { data: Buffer.from(data), synced: Buffer.alloc(0) });
  }

  async rename(from: string, to: string): Promise<void> {
    this.#step(`rename ${from} ${to}`);
    const inode = this.#names.get(from);
    if (!inode) throw fail('ENOENT', from);
    this.#names.delete(from);
    this.#names.set(to, inode);
  }

  async fsync(path: string): Promise<void> {
    this.#step(`fsync ${path}`);
    const inode = this.#names.get(path);
    if (inode) {
      inode.synced = inode.data;
      return;
    }
    // A directory: its entries as they are now reach the disk.
    for (const [name, node] of this.#names) if (dirname(name) === path) this.#durableNames.set(name, node);
    for (const name of [...this.#durableNames.keys()]) if (dirname(name) === path && !this.#names.has(name)) this.#durableNames.delete(name);
  }

  async mkdirp(): Promise<string | undefined> {
    return undefined;
  }

  async exists(path: string): Promise<boolean> {
    return this.#names.has(path);
  }

  /** A handle on the file's inode (a rename moves it along); the file is made if absent, its name durable only once its directory is fsynced. */
  async openAppend(path: string): Promise<AppendFile> {
    this.#step(`open ${path}`);
    let inode = this.#names.get(path);
    if (!inode) this.#names.set(path, (inode = { data: Buffer.alloc(0), synced: Buffer.alloc(0) }));
    const node = inode;
    const flush = async () => {
      this.#step(`fsync ${path}`);
      node.synced = node.data;
    };
    return {
      append: async (data) => {
        this.#step(`write ${path}`);
        node.data = Buffer.concat([node.data, data]);
      },
      datasync: flush,
      sync: flush,
      truncate: async (length) => {
        this.#step(`truncate ${path}`);
        node.data = Buffer.from(node.data.subarray(0, length));
      },
      size: async () => node.data.length,
      close: async () => undefined,
    };
  }
}
