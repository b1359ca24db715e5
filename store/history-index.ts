import { noTurns, type Turn } from './turn-taker.ts';
import type { HistoryEntry } from './types.ts';

/** The two history files: a compaction writes the live entries into the one not in use. */
export const HISTORY_FILES = ['history.jsonl', 'history.alt.jsonl'] as const;

/** What sealing one task weighs against a character of JSON encoded, in a checkpoint's turns. */
const TASK_WEIGHT = 64;
export type HistoryFileName = (typeof HISTORY_FILES)[number];

/** The history index as a checkpoint holds it: the file, its durable length, and per task its figures and segments. */
export interface HistoryIndexJson {
  file: HistoryFileName;
  bytes: number;
  /** Per task: [lastAt, lastAcceptedAt, then offset, length, count of each segment, oldest first]. */
  tasks: Record<string, (number | null)[]>;
}

/** One task's history: segments of the file, entries being written there, and entries only the journal holds. */
interface TaskHistory {
  /** [offset, length, count] triples in the current file, oldest first. */
  segments: number[];
  filed: number;
  /** Entries a checkpoint under way writes to the file (their place is in its seal). */
  sealed: HistoryEntry[];
  /** Entries since the last seal: only the journal holds them on disk. */
  pending: HistoryEntry[];
  lastAt: number | null;
  lastAcceptedAt: number | null;
}

/** What a checkpoint writes to the history file, and the index it records, computed before anything is written. */
export interface HistorySeal {
  file: HistoryFileName;
  /** Whether the file is rewritten from empty with the live entries (a compaction), or appended to. */
  compact: boolean;
  /** What to write, in order: new lines, or a range [offset, length] of the current file to copy. */
  pieces: (Buffer | [number, number])[];
  /** The file's length once written. */
  bytes: number;
  index: HistoryIndexJson;
  /** The segments each task gains (or, compacting, now has). */
  segments: Map<TaskHistory, number[]>;
}

/** Where a task's entries are: ranges of the history file, then entries still in memory. */
export interface HistoryLocation {
  file: HistoryFileName;
  segments: readonly number[];
  memory: readonly HistoryEntry[];
}

/** What the sweeps need of a task's history without reading it. */
export interface HistorySummary {
  entries: number;
  lastAt: number | null;
  lastAcceptedAt: number | null;
}

/**
 * Every task's history, held as an index into the history file plus the entries written since the last
 * checkpoint (the journal holds those): memory follows live tasks and recent events, not all events ever.
 * Pure bookkeeping; reading and writing the file is the store's.
 */
export class HistoryIndex {
  readonly #tasks = new Map<string, TaskHistory>();
  #file: HistoryFileName = HISTORY_FILES[0];
  /** The file's durable length the index covers, and how much of it live tasks' segments hold. */
  #bytes = 0;
  #liveBytes = 0;
  #entries = 0;
  /** Segments of all tasks: one more per task at each checkpoint it took events before. */
  #segments = 0;
  /** Bytes appended since the file was last written whole: what pays for copying the live ones again. */
  #appended = 0;

  /** The index a checkpoint recorded, or why it is not one. */
  static fromJson(json: unknown): HistoryIndex | string {
    const index = new HistoryIndex();
    if (typeof json !== 'object' || json === null) return 'is not an object';
    const { file, bytes, tasks } = json as Partial<HistoryIndexJson>;
    if (!HISTORY_FILES.includes(file as HistoryFileName)) return `names no history file (${JSON.stringify(file)})`;
    if (!Number.isSafeInteger(bytes) || bytes! < 0) return 'bytes is not a length';
    if (typeof tasks !== 'object' || tasks === null) return 'tasks is not an object';
    index.#file = file!;
    index.#bytes = bytes!;
    for (const [id, row] of Object.entries(tasks)) {
      const ok = Array.isArray(row) && row.length >= 2 && (row.length - 2) % 3 === 0;
      if (!ok) return `tasks[${JSON.stringify(id)}] is not [lastAt, lastAcceptedAt, segments...]`;
      const figure = (v: unknown) => v === null || typeof v === 'number';
      if (!figure(row[0]) || !figure(row[1])) return `tasks[${JSON.stringify(id)}] has no lastAt or lastAcceptedAt`;
      const segments = row.slice(2) as number[];
      const task: TaskHistory = { segments, filed: 0, sealed: [], pending: [], lastAt: row[0] ?? null, lastAcceptedAt: row[1] ?? null };
      for (let i = 0; i < segments.length; i += 3) {
        const [offset, length, count] = [segments[i]!, segments[i + 1]!, segments[i + 2]!];
        if (![offset, length, count].every((n) => Number.isSafeInteger(n) && n >= 0) || offset + length > bytes!) {
          return `tasks[${JSON.stringify(id)}] has a segment outside the file's ${bytes} bytes`;
        }
        task.filed += count;
        index.#liveBytes += length;
        index.#segments++;
      }
      index.#entries += task.filed;
      index.#tasks.set(id, task);
    }
    return index;
  }

  get file(): HistoryFileName {
    return this.#file;
  }

  /** The durable length of the history file this index covers. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Entries of every task held, on file or in memory. */
  get entries(): number {
    return this.#entries;
  }

  add(taskId: string, entry: HistoryEntry): void {
    let task = this.#tasks.get(taskId);
    if (task === undefined) this.#tasks.set(taskId, (task = { segments: [], filed: 0, sealed: [], pending: [], lastAt: null, lastAcceptedAt: null }));
    task.pending.push(entry);
    task.lastAt = entry.at;
    if (entry.accepted) task.lastAcceptedAt = entry.at;
    this.#entries++;
  }

  /** Forgets a task's history (it went to the archive); its bytes in the file are dead until a compaction. */
  drop(taskId: string): void {
    const task = this.#tasks.get(taskId);
    if (task === undefined) return;
    this.#tasks.delete(taskId);
    this.#entries -= task.filed + task.sealed.length + task.pending.length;
    for (let i = 1; i < task.segments.length; i += 3) this.#liveBytes -= task.segments[i]!;
    this.#segments -= task.segments.length / 3;
  }

  summary(taskId: string): HistorySummary | undefined {
    const task = this.#tasks.get(taskId);
    if (task === undefined) return undefined;
    return { entries: task.filed + task.sealed.length + task.pending.length, lastAt: task.lastAt, lastAcceptedAt: task.lastAcceptedAt };
  }

  locate(taskId: string): HistoryLocation | undefined {
    const task = this.#tasks.get(taskId);
    if (task === undefined) return undefined;
    const memory = task.sealed.length === 0 ? task.pending : [...task.sealed, ...task.pending];
    return { file: this.#file, segments: task.segments, memory };
  }

  /**
   * Plans a checkpoint's history write: every entry in memory goes to the file, appended, or with all live
   * entries into the other file, each task's in one segment: when dead bytes of archived tasks outweigh the
   * live ones and pass `compactAfterBytes`, or when segments pile up and the live bytes are under it (or a
   * quarter of them was appended since the last copy). Until commit() or abort(), the entries stay readable here.
   * The entries are sealed before this returns; they are encoded a slice of tasks at a time, a `turn` weighing their bytes after each task.
   */
  seal(compactAfterBytes: number, turn: Turn = noTurns): Promise<HistorySeal> {
    const dead = this.#bytes - this.#liveBytes;
    // Also when tasks' entries lie scattered over many segments and the live ones are cheap to copy: the index
    // (in memory and in every checkpoint) then shrinks back to one segment per task.
    // A large file is copied only once a quarter of its size was appended since the last copy: each byte
    // appended is copied at most four more times, and segments stay bounded by what a quarter holds.
    const cheap = this.#liveBytes <= compactAfterBytes || this.#appended * 4 >= this.#liveBytes;
    const scattered = this.#segments > 8 * this.#tasks.size + 64 && cheap;
    const compact = (dead >= compactAfterBytes && dead > this.#liveBytes) || scattered;
    const file = compact ? HISTORY_FILES[1 - HISTORY_FILES.indexOf(this.#file)]! : this.#file;
    // Sealed now, written out in slices: entries added meanwhile go to `pending`, and a task's segments
    // change only when this seal is committed or aborted.
    const sealed: [string, TaskHistory, number | null, number | null][] = [];
    for (const [id, task] of this.#tasks) {
      task.sealed = task.pending;
      task.pending = [];
      sealed.push([id, task, task.lastAt, task.lastAcceptedAt]);
    }
    return this.#encode(sealed, compact, file, compact ? 0 : this.#bytes, turn);
  }

  async #encode(sealed: [string, TaskHistory, number | null, number | null][], compact: boolean, file: HistoryFileName, start: number, turn: Turn): Promise<HistorySeal> {
    const pieces: HistorySeal['pieces'] = [];
    const segments = new Map<TaskHistory, number[]>();
    const tasks: HistoryIndexJson['tasks'] = Object.create(null) as HistoryIndexJson['tasks'];
    let end = start;
    for (const [id, task, lastAt, lastAcceptedAt] of sealed) {
      const begin = end;
      if (compact) {
        for (let i = 0; i < task.segments.length; i += 3) {
          pieces.push([task.segments[i]!, task.segments[i + 1]!]);
          end += task.segments[i + 1]!;
        }
      }
      let encoded = 0;
      if (task.sealed.length > 0) {
        const lines = Buffer.from(task.sealed.map((entry) => `${JSON.stringify(entry)}\n`).join(''));
        pieces.push(lines);
        end += lines.length;
        encoded = lines.length;
      }
      const added = end > begin ? [begin, end - begin, (compact ? task.filed : 0) + task.sealed.length] : [];
      if (added.length > 0) segments.set(task, added);
      const kept = compact ? added : [...task.segments, ...added];
      tasks[id] = [lastAt, lastAcceptedAt, ...kept];
      // Weighed by what was encoded: a compaction's ranges to copy cost nothing here.
      await turn(encoded + TASK_WEIGHT);
    }
    return { file, compact, pieces, bytes: end, index: { file, bytes: end, tasks }, segments };
  }

  /** The seal's checkpoint is durable: the sealed entries are read from the file from now on. */
  commit(seal: HistorySeal): void {
    if (seal.compact) {
      this.#liveBytes = 0;
      this.#segments = 0;
      this.#appended = 0;
    } else this.#appended += seal.bytes - this.#bytes;
    // Tasks made since the seal have nothing in it; tasks archived since are gone, their bytes dead.
    for (const task of this.#tasks.values()) {
      const added = seal.segments.get(task);
      if (seal.compact) {
        task.segments = added ?? [];
        task.filed = 0;
      } else if (added !== undefined) task.segments.push(...added);
      if (added !== undefined) {
        task.filed += added[2]!;
        this.#liveBytes += added[1]!;
        this.#segments++;
      }
      task.sealed = [];
    }
    this.#file = seal.file;
    this.#bytes = seal.bytes;
  }

  /** The seal's checkpoint failed: its entries are in memory only again, before any added since. */
  abort(): void {
    for (const task of this.#tasks.values()) {
      if (task.sealed.length === 0) continue;
      task.pending = [...task.sealed, ...task.pending];
      task.sealed = [];
    }
  }
}
