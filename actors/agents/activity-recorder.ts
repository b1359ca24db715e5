import { dirname } from 'node:path';
import type { AppendFile, FileSystem } from '../../store/index.ts';
import { readLogRange } from '../executors/index.ts';
import { addUsage, type ActivityRecord, type AgentKind, type AgentQuestion, type ParsedActivity, type Usage } from './types.ts';

/** Where a job's activity is kept: beside its log. */
export const activityPathFor = (logPath: string): string => `${logPath}.activity.jsonl`;

/** Where the turns of a kind with input wait for its session: the prompt first, then words given while it runs. */
export const inboxPathFor = (logPath: string): string => `${logPath}.inbox.jsonl`;

/** What a job's activity log says so far: how far into the job's log it has read, the session, the spend. */
export interface ActivityState {
  /** Records written, including the bookkeeping ones (session, usage). */
  count: number;
  offset: number;
  session: string | null;
  usage: Usage | null;
  lastAt: number | null;
  truncated: boolean;
  /** What the agent asked a person and left unanswered: its last question, unless it went on talking after it. */
  question: AgentQuestion | null;
}

export interface ActivityRecorderOptions {
  logPath: string;
  kind: AgentKind;
  fs: FileSystem;
  now(): number;
  /** Records of what the agent did (text, tools, files, errors, results) kept at most; then one `truncated` record. Session and usage are always kept. */
  maxRecords?: number;
}

export const DEFAULT_MAX_ACTIVITY_RECORDS = 5000;
/** The most of the log read at once; a longer line is skipped. */
const CHUNK_BYTES = 1024 * 1024;
const BOOKKEEPING = new Set(['session', 'usage', 'truncated']);

/**
 * Turns a job's log, as its agent's CLI writes it, into the job's activity log: each whole new line is
 * parsed by the agent's kind and what it means is appended (and fsynced) as records. Each record names
 * the log offset past its line, so a recorder opened again after a restart folds the file back into its
 * state and reads on from there: nothing recorded is lost, nothing is recorded twice.
 */
export class ActivityRecorder {
  readonly path: string;
  #state: ActivityState;
  #file: AppendFile | null = null;
  #content = 0;
  #polling: Promise<ActivityRecord[]> | null = null;

  private constructor(private readonly o: ActivityRecorderOptions, state: ActivityState, content: number) {
    this.path = activityPathFor(o.logPath);
    this.#state = state;
    this.#content = content;
  }

  /** A recorder for the job's log, carrying on from whatever its activity log already holds. */
  static async open(o: ActivityRecorderOptions): Promise<ActivityRecorder> {
    const path = activityPathFor(o.logPath);
    const { records, wholeBytes, bytes } = await readActivityFile(o.fs, path);
    if (wholeBytes < bytes) {
      // A torn last record (a crash mid-append) goes, or the next one would be glued to it.
      const file = await o.fs.openAppend(path);
      await file.truncate(wholeBytes);
      await file.close();
    }
    const state: ActivityState = { count: 0, offset: 0, session: null, usage: null, lastAt: null, truncated: false, question: null };
    let content = 0;
    for (const r of records) {
      state.count = r.seq;
      state.offset = r.offset;
      state.lastAt = r.at;
      if (r.session) state.session = r.session;
      if (r.usage) state.usage = r.usage;
      if (r.kind === 'truncated') state.truncated = true;
      state.question = questionAfter(state.question, r);
      if (!BOOKKEEPING.has(r.kind)) content++;
    }
    return new ActivityRecorder(o, state, content);
  }

  get state(): Readonly<ActivityState> {
    return this.#state;
  }

  /**
   * Reads what the log gained, records what it means, and returns the new records once durable. `final`
   * (the agent has ended) also takes a last line with no newline. Calls never overlap.
   */
  poll(final = false): Promise<ActivityRecord[]> {
    const previous = this.#polling ?? Promise.resolve([]);
    const next = previous.catch(() => []).then(() => this.#poll(final));
    this.#polling = next;
    return next;
  }

  async close(): Promise<void> {
    await this.#polling?.catch(() => undefined);
    await this.#file?.close().catch(() => undefined);
    this.#file = null;
  }

  async #poll(final: boolean): Promise<ActivityRecord[]> {
    const out: ActivityRecord[] = [];
    for (;;) {
      const chunk = await readLogRange(this.o.logPath, this.#state.offset, CHUNK_BYTES);
      if (!chunk || chunk.length === 0) break;
      let end = chunk.lastIndexOf(0x0a) + 1;
      // A line longer than a chunk cannot be parsed: skip it whole (its remainder parses as nothing).
      if (end === 0 && chunk.length === CHUNK_BYTES) end = chunk.length;
      if (end === 0 && final) end = chunk.length;
      if (end === 0) break;
      const base = this.#state.offset;
      const made: ActivityRecord[] = [];
      let lineStart = 0;
      while (lineStart < end) {
        const nl = chunk.indexOf(0x0a, lineStart);
        const lineEnd = nl === -1 || nl >= end ? end : nl + 1;
        const line = chunk.subarray(lineStart, lineEnd).toString('utf8');
        for (const parsed of this.#safeParse(line)) made.push(...this.#record(parsed, base + lineEnd));
        lineStart = lineEnd;
      }
      if (made.length > 0) await this.#append(made);
      // Lines that meant nothing advance the offset only in memory; after a restart they are read again, harmlessly.
      this.#state.offset = base + end;
      out.push(...made);
      if (end < chunk.length || chunk.length < CHUNK_BYTES) break;
    }
    return out;
  }

  #safeParse(line: string): ParsedActivity[] {
    try {
      return this.o.kind.parse(line);
    } catch {
      // A parser never takes a job down: a line it chokes on means nothing.
      return [];
    }
  }

  #record(p: ParsedActivity, offset: number): ActivityRecord[] {
    const at = this.o.now();
    const made: ActivityRecord[] = [];
    const push = (r: Omit<ActivityRecord, 'seq' | 'at' | 'offset'>) => {
      this.#state.count += 1;
      this.#state.lastAt = at;
      made.push({ seq: this.#state.count, at, offset, ...r });
    };
    if (p.kind === 'session') {
      if (!p.session || p.session === this.#state.session) return made;
      this.#state.session = p.session;
      push({ kind: 'session', session: p.session });
    } else if (p.kind === 'usage' && p.usage) {
      const { mode, ...figures } = p.usage;
      const usage = mode === 'add' && this.#state.usage ? addUsage(this.#state.usage, figures) : figures;
      this.#state.usage = usage;
      push({ kind: 'usage', usage });
    } else if (p.kind !== 'usage') {
      const max = this.o.maxRecords ?? DEFAULT_MAX_ACTIVITY_RECORDS;
      if (this.#content >= max) {
        if (!this.#state.truncated) {
          this.#state.truncated = true;
          push({ kind: 'truncated', text: `activity truncated at ${max} records; the job's log has the rest` });
        }
        return made;
      }
      this.#content++;
      const { usage: _usage, ...rest } = p;
      push(rest);
      this.#state.question = questionAfter(this.#state.question, p);
    }
    return made;
  }

  async #append(records: ActivityRecord[]): Promise<void> {
    if (!this.#file) {
      const created = !(await this.o.fs.exists(this.path));
      this.#file = await this.o.fs.openAppend(this.path);
      // A new file is durable once its directory entry is.
      if (created) await this.o.fs.fsync(dirname(this.path));
    }
    await this.#file.append(Buffer.from(records.map((r) => `${JSON.stringify(r)}\n`).join('')));
    await this.#file.datasync();
  }
}

/** A question stands until the agent says more (it asked, then went on by itself); a new one replaces it. */
function questionAfter(question: AgentQuestion | null, r: Pick<ParsedActivity, 'kind' | 'text' | 'options'>): AgentQuestion | null {
  if (r.kind === 'question' && r.text) return { text: r.text, ...(r.options ? { options: r.options } : {}) };
  return r.kind === 'text' ? null : question;
}

/** A job's activity records, in order; a torn last line (a crash mid-append) is left out. */
export async function readActivity(fs: FileSystem, path: string): Promise<ActivityRecord[]> {
  return (await readActivityFile(fs, path)).records;
}

async function readActivityFile(fs: FileSystem, path: string): Promise<{ records: ActivityRecord[]; wholeBytes: number; bytes: number }> {
  let data: Buffer;
  try {
    data = await fs.readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], wholeBytes: 0, bytes: 0 };
    throw e;
  }
  const wholeBytes = data.lastIndexOf(0x0a) + 1;
  const records: ActivityRecord[] = [];
  for (const line of data.subarray(0, wholeBytes).toString('utf8').split('\n')) {
    if (!line) continue;
    try {
      const r = JSON.parse(line) as ActivityRecord;
      if (typeof r.seq === 'number' && typeof r.offset === 'number') records.push(r);
    } catch {
      // Every line is written whole and fsynced before the next; one that does not parse is skipped.
    }
  }
  return { records, wholeBytes, bytes: data.length };
}
