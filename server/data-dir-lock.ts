import { linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync, closeSync, fsyncSync } from 'node:fs';
import { join } from 'node:path';

/** Who holds a data directory: written into its lock file. */
export interface LockHolder {
  pid: number;
  /** When the holder process started (ms), so a reused pid is not taken for the holder. */
  startedAt: number;
}

/** A held lock: `release` removes it if it is still ours; `tookOverFrom` names a dead holder whose lock was taken over. */
export interface DataDirLock {
  path: string;
  tookOverFrom?: number;
  release(): void;
}

/** A data directory another live process holds; the message names the directory and the holder's pid. */
export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError';
  constructor(readonly dir: string, readonly holder: number) {
    super(`conveyor: refusing to start, data directory ${dir} is in use by process ${holder} (lock ${join(dir, 'conveyor.lock')})`);
  }
}

export interface LockOptions {
  /** This process; defaults to process.pid and its start time. */
  self?: LockHolder;
  /** Whether a holder is alive; a pid alive since later than its recorded start is someone else. */
  isAlive(pid: number, startedAt: number): boolean;
}

const readHolder = (path: string): { text: string; holder: LockHolder | null } | null => {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    return { text, holder: Number.isSafeInteger(value.pid) && typeof value.startedAt === 'number' ? { pid: value.pid!, startedAt: value.startedAt } : null };
  } catch {
    // A lock torn by a crash while it was written holds no live claim.
    return { text, holder: null };
  }
};

/** Creates the lock file only if there is none (O_EXCL): the one step that decides between racing processes. */
function create(path: string, self: LockHolder): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, JSON.stringify(self));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Takes the exclusive lock of a data directory (SPEC R39), or throws DataDirLockedError naming the
 * live holder. A lock left by a dead process is moved aside and the creation tried again, so of two
 * processes taking over at once only one wins; one that moved aside a live lock by mistake puts it back.
 */
export function lockDataDir(dir: string, opts: LockOptions): DataDirLock {
  const path = join(dir, 'conveyor.lock');
  const self = opts.self ?? { pid: process.pid, startedAt: Date.now() };
  let tookOverFrom: number | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    if (create(path, self)) {
      const mine = JSON.stringify(self);
      return {
        path,
        ...(tookOverFrom === undefined ? {} : { tookOverFrom }),
        release: () => {
          // Only our own lock: after a takeover by mistake, another process's is not ours to remove.
          if (readHolder(path)?.text === mine) unlinkSync(path);
        },
      };
    }
    const seen = readHolder(path);
    if (seen === null) continue;
    if (seen.holder && seen.holder.pid !== self.pid && opts.isAlive(seen.holder.pid, seen.holder.startedAt)) throw new DataDirLockedError(dir, seen.holder.pid);
    const aside = `${path}.stale.${self.pid}`;
    try {
      renameSync(path, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    const moved = readHolder(aside);
    if (moved?.text !== seen.text) {
      // Another process took over between our read and our rename: its fresh lock goes back (never over a third).
      try {
        linkSync(aside, path);
      } catch {
        // A third process holds it now; either way the lock is not ours.
      }
      unlinkSync(aside);
      continue;
    }
    unlinkSync(aside);
    tookOverFrom = seen.holder?.pid ?? 0;
  }
  const holder = readHolder(path)?.holder;
  throw new DataDirLockedError(dir, holder?.pid ?? 0);
}
