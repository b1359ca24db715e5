import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { HistoryEntry, TaskRecord } from '../../store/index.ts';
import type { TaskDocuments } from './retention.ts';

/** A finished task as the archive keeps it: its last record, its whole history, its jobs, effects and decisions. */
export interface ArchivedTask {
  task: TaskRecord;
  history: HistoryEntry[];
  /** Absent in lines archived before the documents went with their task. */
  documents?: TaskDocuments;
}

const fsyncDir = (dir: string) => {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
};

/**
 * Finished tasks out of the live document (SPEC R40): one gzip file per month of archiving, each
 * append a gzip member of JSON lines (concatenated members are one valid gzip stream), fsynced before
 * the store forgets the tasks. A lookup reads the files newest first; nothing about them stays in memory.
 */
export class TaskArchive {
  readonly #dir: string;

  constructor(dataDir: string) {
    this.#dir = join(dataDir, 'archive');
  }

  /** Appends tasks durably to the file of `at`'s month. */
  append(tasks: readonly ArchivedTask[], at: number): void {
    if (tasks.length === 0) return;
    mkdirSync(this.#dir, { recursive: true });
    const file = join(this.#dir, `tasks-${new Date(at).toISOString().slice(0, 7)}.jsonl.gz`);
    // The id first, so a lookup can find a line by its start without parsing every one.
    const lines = tasks.map((t) => `${JSON.stringify({ id: t.task.id, task: t.task, history: t.history, documents: t.documents })}\n`).join('');
    const fd = openSync(file, 'a');
    try {
      writeSync(fd, gzipSync(lines));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    fsyncDir(this.#dir);
  }

  /** An archived task by id, or undefined. */
  find(id: string): ArchivedTask | undefined {
    let files: string[];
    try {
      files = readdirSync(this.#dir).filter((f) => f.endsWith('.jsonl.gz')).sort().reverse();
    } catch {
      return undefined;
    }
    const prefix = `{"id":${JSON.stringify(id)},`;
    for (const file of files) {
      const text = gunzipSync(readFileSync(join(this.#dir, file))).toString('utf8');
      const at = text.startsWith(prefix) ? 0 : text.indexOf(`\n${prefix}`) + 1;
      if (at === 0 && !text.startsWith(prefix)) continue;
      const end = text.indexOf('\n', at);
      const { task, history, documents } = JSON.parse(text.slice(at, end < 0 ? undefined : end)) as ArchivedTask;
      return { task, history, documents: documents ?? {} };
    }
    return undefined;
  }
}
