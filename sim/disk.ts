import { dirname } from 'node:path';
import type { AppendFile, FileSystem } from '../store/index.ts';
import type { SimRandom } from './random.ts';

interface Inode {
  /** What survives a crash, in pieces. */
  durable: Buffer[];
  /** What reads see when it differs from durable: written, not yet fsynced, in pieces (appends stay cheap). */
  cache: Buffer[] | null;
  /** While cached: how many leading bytes of the cache are the durable ones, untouched since the last fsync. */
  stable: number;
}

const joined = (parts: Buffer[]) => (parts.length === 1 ? parts[0]! : Buffer.concat(parts));

/**
 * The pieces of a file cut (or padded) to `length`. Whole pieces below the cut are kept as they are, so a
 * crash still sees the durable ones as a prefix: bytes fsynced below the cut were on the platter before it.
 */
function cut(parts: Buffer[], length: number): Buffer[] {
  const kept: Buffer[] = [];
  let size = 0;
  for (const part of parts) {
    if (size + part.length > length) {
      if (length > size) kept.push(Buffer.from(part.subarray(0, length - size)));
      size = length;
      break;
    }
    kept.push(part);
    size += part.length;
  }
  if (size < length) kept.push(Buffer.alloc(length - size));
  return kept;
}


/** What the disk asks before each operation: fail it (an errno), crash the process, or let it run. */
export interface DiskFaults {
  beforeWrite(op: string, path: string): 'ENOSPC' | 'EIO' | 'crash' | null;
  beforeSync(path: string): 'EIO' | 'crash' | null;
}

/** Whether the process using this view of the disk is still alive; a dead one's calls never return. */
export interface Liveness {
  alive(): boolean;
}

const never = new Promise<never>(() => undefined);

function errno(code: string, op: string, path: string): Error {
  return Object.assign(new Error(`${code}: ${op} '${path}'`), { code, syscall: op, path });
}

/**
 * A disk in memory with a page cache, after Jepsen's LazyFS: a write lands in the cache and reaches the
 * disk only at fsync; names (create, rename) are durable at once. A crash drops every unsynced write,
 * except that the last bytes written to a file may survive in part: a torn write.
 */
export class SimDisk {
  readonly #files = new Map<string, Inode>();
  readonly #dirs = new Set<string>(['/']);
  readonly #random: SimRandom;
  faults: DiskFaults = { beforeWrite: () => null, beforeSync: () => null };
  /** Called when an operation crashes the process. */
  onCrash: () => void = () => undefined;
  readonly stats = { writes: 0, syncs: 0, torn: 0, dropped: 0 };

  constructor(random: SimRandom) {
    this.#random = random;
  }

  /** Power loss: unsynced writes are gone, the last one perhaps in part. */
  crash(): void {
    for (const inode of this.#files.values()) {
      if (inode.cache === null) continue;
      const cache = joined(inode.cache);
      inode.cache = null;
      if (this.#random.chance(0.5)) {
        this.stats.dropped++;
        continue;
      }
      this.stats.torn++;
      // The bytes no write touched since the last fsync stay; of what was written after them, a prefix
      // reached the platter: of an appended tail, or of a rewrite (a truncation below them, a new content).
      const rest = cache.subarray(inode.stable);
      inode.durable = [Buffer.from(cache.subarray(0, inode.stable + this.#random.int(0, rest.length)))];
    }
  }

  /** The FileSystem one process sees: its calls stop answering once it is dead. */
  view(process: Liveness): FileSystem {
    const run = <T>(fn: () => T): Promise<T> => {
      if (!process.alive()) return never;
      try {
        return Promise.resolve(fn());
      } catch (e) {
        if ((e as { crash?: boolean }).crash) return never;
        return Promise.reject(e as Error);
      }
    };
    const write = (op: string, path: string) => {
      const fault = this.faults.beforeWrite(op, path);
      if (fault === 'crash') this.#crashNow();
      if (fault) throw errno(fault, op, path);
      this.stats.writes++;
    };
    const sync = (path: string) => {
      const fault = this.faults.beforeSync(path);
      if (fault === 'crash') this.#crashNow();
      if (fault) throw errno(fault, 'fsync', path);
      this.stats.syncs++;
    };
    const inode = (path: string, op: string) => {
      const found = this.#files.get(path);
      if (!found) throw errno('ENOENT', op, path);
      return found;
    };
    const create = (path: string, op: string) => {
      if (!this.#dirs.has(dirname(path))) throw errno('ENOENT', op, path);
      let found = this.#files.get(path);
      if (!found) this.#files.set(path, (found = { durable: [], cache: null, stable: 0 }));
      return found;
    };
    // Reads are rare (opening, a checkpoint): the pieces are joined then.
    const content = (i: Inode): Buffer => joined(i.cache ?? i.durable);
    const size = (i: Inode) => (i.cache ?? i.durable).reduce((n, b) => n + b.length, 0);
    // The cache of an inode about to change: from its durable content, all of it stable, on the first write.
    const cached = (i: Inode): Buffer[] => {
      if (i.cache === null) {
        i.cache = [...i.durable];
        i.stable = size(i);
      }
      return i.cache;
    };
    const handle = (path: string): AppendFile => ({
      append: (data) => run(() => {
        write('append', path);
        const i = inode(path, 'append');
        cached(i).push(Buffer.from(data));
      }),
      datasync: () => run(() => flush(path)),
      sync: () => run(() => flush(path)),
      truncate: (length) => run(() => {
        write('truncate', path);
        const i = inode(path, 'truncate');
        const before = cached(i);
        i.stable = Math.min(i.stable, length);
        i.cache = cut(before, length);
      }),
      size: () => run(() => size(inode(path, 'fstat'))),
      close: () => run(() => undefined),
    });
    const flush = (path: string) => {
      sync(path);
      if (this.#dirs.has(path)) return;
      const i = inode(path, 'fsync');
      if (i.cache !== null) i.durable = i.cache;
      i.cache = null;
    };
    return {
      readFile: (path) => run(() => Buffer.from(content(inode(path, 'open')))),
      // A read sees the page cache, as readFile does; a dead process gets no answer, so it gets an error here.
      readRanges: (path, ranges) => {
        if (!process.alive()) throw Object.assign(new Error('sim: crashed'), { crash: true });
        const file = inode(path, 'open');
        // Only the pieces a range covers are copied: the history is read this way on every commit the simulator watches.
        return ranges.map(([position, length]) => {
          const parts: Buffer[] = [];
          let at = 0;
          for (const piece of file.cache ?? file.durable) {
            if (at >= position + length) break;
            const end = at + piece.length;
            if (end > position) parts.push(piece.subarray(Math.max(0, position - at), Math.min(piece.length, position + length - at)));
            at = end;
          }
          return Buffer.concat(parts);
        });
      },
      writeFile: (path, data) => run(() => {
        write('write', path);
        const i = create(path, 'open');
        i.cache = [Buffer.from(data)];
        i.stable = 0;
      }),
      rename: (from, to) => run(() => {
        write('rename', from);
        const i = inode(from, 'rename');
        if (!this.#dirs.has(dirname(to))) throw errno('ENOENT', 'rename', to);
        this.#files.delete(from);
        this.#files.set(to, i);
      }),
      mkdirp: (path) => run(() => {
        let first: string | undefined;
        const missing: string[] = [];
        for (let p = path; !this.#dirs.has(p); p = dirname(p)) missing.unshift(p);
        if (missing.length > 0) write('mkdir', path);
        for (const p of missing) {
          this.#dirs.add(p);
          first ??= p;
        }
        return first;
      }),
      exists: (path) => run(() => this.#dirs.has(path) || this.#files.has(path)),
      openAppend: (path) => run(() => {
        create(path, 'open');
        return handle(path);
      }),
      fsync: (path) => run(() => {
        if (!this.#dirs.has(path)) inode(path, 'open');
        flush(path);
      }),
    };
  }

  #crashNow(): never {
    this.onCrash();
    throw Object.assign(new Error('sim: crashed'), { crash: true });
  }
}
