import { performance } from 'node:perf_hooks';
import { dirname, join } from 'node:path';
import { applyRecord, emptyDoc, recordProblem } from './apply.ts';
import { captureCheckpoint, CHECKPOINT_FILE, CheckpointWriter, type CapturedCheckpoint, type CheckpointBasis, type PreparedCheckpoint } from './checkpoint.ts';
import { readCheckpoint } from './checkpoint-read.ts';
import { DeltaFile } from './delta-file.ts';
import { StoreClosedError, StoreError, StoreReadError, StoreWriteError } from './errors.ts';
import { HistoryFiles } from './history-files.ts';
import type { HistorySeal, HistorySummary } from './history-index.ts';
import { nodeFileSystem, type FileSystem } from './file-system.ts';
import { JournalWriter } from './journal.ts';
import { readJournalFiles } from './journal-files.ts';
import { RevFence } from './rev-fence.ts';
import { noTurns, turnTaker, type Turn } from './turn-taker.ts';
import type { Collection, HistoryEntry, HistoryRange, Store, StoreDoc, StoreObserver, StoreRecord, TaskFold, TaskRecord, TaskStep } from './types.ts';

/** Where the embedded store keeps its files and how often it checkpoints. */
export interface EmbeddedStoreOptions {
  dir: string;
  /** Checkpoint once the journal holds this many records; default 5000. */
  checkpointEvery?: number;
  /** Checkpoint when the last one is this old and the journal is not empty; default 60000. */
  checkpointIntervalMs?: number;
  clock?: { now(): number };
  /** Where the files live; the node filesystem unless simulated. */
  fs?: FileSystem;
  /** Told of every commit, batch and checkpoint (metrics); observe() sets it later. */
  observer?: StoreObserver;
  /**
   * Rewrite the history file without archived tasks' entries once they hold this many bytes and more than the
   * live ones, or, while the live entries hold fewer bytes than this (or a quarter of them was appended since the
   * last copy), once tasks' entries lie in more than eight segments each; default 64 MiB.
   */
  compactHistoryAfterBytes?: number;
}

/** A batch written to the journal (seq null: it had nothing to write), waiting for an fsync. */
interface Written {
  batch: Call[];
  seq: number | null;
  bytes: number;
}

interface Call {
  records: StoreRecord[];
  /** The records as JSON without the enclosing brackets, ready to join into a batch line. */
  json: string;
  resolve(seq: number): void;
  reject(error: unknown): void;
}

type State = 'unloaded' | 'loading' | 'open' | 'failed' | 'closing' | 'closed';

const NO_HISTORY: readonly HistoryEntry[] = Object.freeze([]);

/**
 * Characters of JSON a checkpoint serializes between two turns of the event loop: a tenth of a millisecond or so,
 * so a request waits behind little of it. Under load a checkpoint then takes a few seconds and checkpoints come
 * back to back, each holding more of the journal (with 256 KiB slices the ingest bench measured 10 to 20% fewer
 * requests per second and a p99 half again as long).
 */
const CHECKPOINT_SLICE = 16 * 1024;

/** The single-process store: a journal of commit batches plus lowdb checkpoints, the document in memory. */
export class EmbeddedStore implements Store {
  readonly #dir: string;
  readonly #fs: FileSystem;
  readonly #every: number;
  readonly #intervalMs: number;
  readonly #clock: { now(): number };
  readonly #checkpointer: CheckpointWriter;
  readonly #historyFiles: HistoryFiles;
  readonly #compactAfter: number;
  readonly #fence = new RevFence((id) => this.#doc.tasks[id]?.rev ?? null);
  #state: State = 'unloaded';
  #loading: Promise<void> | null = null;
  #closing: Promise<void> | null = null;
  #doc: StoreDoc = emptyDoc();
  #taskCount = 0;
  /** The last batch applied: every batch up to it is fsynced. */
  #seq = 0;
  /** The last batch written, fsynced or not. */
  #writtenSeq = 0;
  /** Wakes the drain loop when a call arrives while an fsync is in flight. */
  #wake: (() => void) | null = null;
  #checkpointDue = false;
  /** The checkpoint being written while commits go on, if any. */
  #checkpointing: Promise<void> | null = null;
  /** The seq of the last checkpoint on disk. */
  #checkpointedSeq = 0;
  /** The journal file not appended to, and the newest seq it may hold (0 once emptied). */
  #other = { file: '', lastSeq: 0 };
  #journal: JournalWriter | null = null;
  #deltas: DeltaFile | null = null;
  /** What the last durable checkpoint holds: the next may write only what changed since (null: it writes a base). */
  #basis: CheckpointBasis | null = null;
  /** Bytes of the base checkpoint, and of the deltas written after it: a load reads them all. */
  #checkpointBytes = { base: 0, deltas: 0 };
  #journalRecords = 0;
  #checkpoints = 0;
  #lastCheckpointAt: number | null = null;
  #due = { records: 0, at: 0 };
  #queue: Call[] = [];
  #draining: Promise<void> | null = null;
  /** Set when applying a written batch threw: the memory no longer matches the journal. */
  #defect = false;
  #observer: StoreObserver = {};
  #fold: TaskFold | null = null;

  constructor(options: EmbeddedStoreOptions) {
    this.#dir = options.dir;
    this.#fs = options.fs ?? nodeFileSystem;
    this.#every = options.checkpointEvery ?? 5000;
    this.#intervalMs = options.checkpointIntervalMs ?? 60_000;
    this.#clock = options.clock ?? Date;
    this.#checkpointer = new CheckpointWriter(this.#fs, join(options.dir, CHECKPOINT_FILE));
    this.#historyFiles = new HistoryFiles(this.#fs, options.dir);
    this.#compactAfter = options.compactHistoryAfterBytes ?? 64 * 2 ** 20;
    if (options.observer) this.observe(options.observer);
  }

  observe(observer: StoreObserver): void {
    this.#observer = observer;
  }

  load(fold?: TaskFold): Promise<void> {
    if (this.#state !== 'unloaded') return Promise.reject(new Error(`store: load() called when ${this.#state}`));
    this.#state = 'loading';
    this.#fold = fold ?? null;
    this.#loading = this.#load().then(
      () => {
        this.#state = 'open';
      },
      (error: unknown) => {
        // From here on nothing is written, so the files that failed to load stay as they are.
        this.#state = 'failed';
        this.#doc = emptyDoc();
        throw error instanceof StoreError ? error : new StoreReadError(this.#dir, error);
      },
    );
    return this.#loading;
  }

  async #load(): Promise<void> {
    const created = await this.#fs.mkdirp(this.#dir);
    if (created !== undefined) await this.#fs.fsync(dirname(created));
    const checkpoint = await readCheckpoint(this.#fs, this.#dir);
    if (!checkpoint.ok) throw checkpoint.error;
    this.#deltas = new DeltaFile(this.#fs, checkpoint.deltas.file, checkpoint.deltas);
    this.#basis = checkpoint.checkpoint?.basis ?? null;
    this.#checkpointBytes = { base: checkpoint.checkpoint?.baseBytes ?? 0, deltas: checkpoint.checkpoint?.deltaBytes ?? 0 };
    const doc = checkpoint.checkpoint?.doc ?? emptyDoc();
    let seq = checkpoint.checkpoint?.seq ?? 0;
    this.#checkpointedSeq = seq;
    // Cuts what a checkpoint that never landed appended: the journal still holds those entries.
    await this.#historyFiles.open(doc.history.file, doc.history.bytes);
    const journal = await readJournalFiles(this.#fs, this.#dir, seq);
    if (!journal.ok) throw journal.error;
    let records = 0;
    for (const batch of journal.batches) {
      for (const record of batch.records) {
        if (record.kind === 'step') this.#replayStep(doc, record, batch.seq);
        applyRecord(doc, record);
      }
      records += batch.records.length;
      seq = batch.seq;
    }
    this.#journal = await JournalWriter.open(this.#fs, journal.active.file, journal.active);
    this.#other = journal.other;
    this.#doc = doc;
    this.#seq = seq;
    this.#writtenSeq = seq;
    this.#taskCount = Object.keys(doc.tasks).length;
    this.#journalRecords = records;
    this.#due = { records: this.#nextCheckpointRecords(), at: this.#clock.now() + this.#intervalMs };
  }

  /** Sets a journaled step's snapshot (and version) by folding it over the task as the document holds it. */
  #replayStep(doc: StoreDoc, step: TaskStep, seq: number): void {
    if (this.#fold === null) throw new Error(`store: journal seq ${seq} holds a step of task ${step.taskId}; loading it needs the task machine's fold`);
    try {
      const folded = this.#fold(doc.tasks[step.taskId], step);
      step.snapshot = folded.snapshot;
      step.version = folded.version;
    } catch (error) {
      throw new Error(`store: task ${step.taskId} cannot be replayed to rev ${step.rev} (journal seq ${seq}): ${(error as Error).message}`, { cause: error });
    }
  }

  /** Durably commits records as one unit; see Store.commit. A task record's rev must be expectedRev + 1 (1 on create). */
  commit(records: StoreRecord[]): Promise<number> {
    if (this.#state !== 'open') return Promise.reject(this.#notOpen());
    let json: string;
    let copies: StoreRecord[];
    try {
      // A step's snapshot stays in memory: the journal holds the event it is folded from.
      json = JSON.stringify(records.map((r) => (r.kind === 'step' && r.snapshot !== undefined ? { ...r, snapshot: undefined } : r)));
      // The memory holds what a replay would read back, and callers may keep mutating their objects.
      // A step's snapshot is the exception: it is kept as given (see Store.commit), a copy of it cost more than the rest of a commit.
      copies = JSON.parse(json) as StoreRecord[];
      if (!Array.isArray(copies)) throw new Error('not a list');
      for (const [i, record] of records.entries()) {
        const copy = copies[i]!;
        if (record.kind !== 'step' || copy.kind !== 'step') continue;
        if (record.snapshot !== undefined) copy.snapshot = record.snapshot;
        else if (this.#fold === null) throw new Error(`records[${i}] is a step without a snapshot, and this store has no fold`);
      }
    } catch (error) {
      return Promise.reject(new TypeError(`store: records cannot be written as JSON: ${String(error)}`, { cause: error }));
    }
    for (const [i, record] of copies.entries()) {
      const problem = recordProblem(record);
      if (problem !== undefined) return Promise.reject(new TypeError(`store: records[${i}] ${problem}`));
    }
    const reserved = this.#fence.reserve(copies);
    if (!reserved.ok) return Promise.reject(reserved.error);
    const calledAt = performance.now();
    const settled = (stored: boolean) => this.#observer.commit?.(performance.now() - calledAt, stored);
    return new Promise<number>((resolve, reject) => {
      this.#queue.push({
        records: copies,
        json: json.slice(1, -1),
        resolve: (seq) => (settled(true), resolve(seq)),
        reject: (error) => (settled(false), reject(error)),
      });
      this.#draining ??= this.#drain();
      this.#wake?.();
    });
  }

  /**
   * Pipelined group commit: queued calls are written as one batch, also while the fsync of the batches
   * before is in flight; each fsync covers every batch written before it started, and only when it returns
   * are those batches applied and their callers answered. A checkpoint runs when nothing is in flight.
   */
  async #drain(): Promise<void> {
    let syncing: Promise<void> | null = null;
    let unsynced: Written[] = [];
    let failure: StoreWriteError | null = null;
    let defect = null as { error: unknown } | null;
    try {
      // Calls made in the same tick as the first one join its batch.
      await Promise.resolve();
      for (;;) {
        if (defect !== null) throw defect.error;
        // A due checkpoint comes before the next write, so the journal it restarts holds nothing it does not.
        if (this.#queue.length > 0 && failure === null && !this.#checkpointStarts()) {
          const batch = this.#queue.splice(0);
          const written = await this.#writeBatch(batch);
          if (written.ok) unsynced.push(written);
          else {
            failure = written.error;
            unsynced.push({ batch, seq: null, bytes: 0 });
          }
        }
        if (syncing === null) {
          if (failure !== null) {
            // Nothing past the last fsync that returned counts: its callers, and those counting on their revs, are refused.
            this.#refuse(unsynced.flatMap((w) => w.batch), failure);
            this.#journal?.discardUnsynced();
            unsynced = [];
            this.#writtenSeq = this.#seq;
            failure = null;
            continue;
          }
          if (unsynced.length > 0) {
            const covered = unsynced;
            unsynced = [];
            syncing = this.#sync(covered).then(
              (error) => {
                if (error !== undefined) failure ??= error;
                syncing = null;
              },
              (error: unknown) => {
                defect = { error };
                syncing = null;
              },
            );
          } else if (this.#checkpointStarts()) {
            // With nothing in flight, so the document is exactly the journal up to #seq.
            await this.#beginCheckpoint();
            continue;
          } else if (this.#queue.length === 0) break;
          else continue;
        }
        // The next batch waits for its first call or for the fsync in flight, whichever comes first.
        if (syncing !== null) await Promise.race([syncing, this.#arrival()]);
      }
    } catch (error) {
      // Only a defect gets here; the memory may no longer match the journal, so stop taking writes.
      this.#defect = true;
      this.#state = 'failed';
      for (const call of [...unsynced.flatMap((w) => w.batch), ...this.#queue.splice(0)]) call.reject(error);
    } finally {
      this.#wake = null;
      this.#draining = null;
    }
  }

  /** Resolves when commit() queues a call. */
  #arrival(): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
    });
  }

  /** Writes one batch to the journal, not yet durable; a batch with nothing to write is answered at once. */
  async #writeBatch(batch: Call[]): Promise<({ ok: true } & Written) | { ok: false; error: StoreWriteError }> {
    const parts = batch.map((call) => call.json).filter((json) => json !== '');
    // Nothing to make durable, but answered in order: after every batch before it.
    if (parts.length === 0 || this.#journal === null) return { ok: true, batch, seq: null, bytes: 0 };
    const seq = this.#writtenSeq + 1;
    const line = Buffer.from(`{"seq":${seq},"records":[${parts.join(',')}]}\n`);
    const written = await this.#journal.write(line);
    if (!written.ok) return written;
    this.#writtenSeq = seq;
    return { ok: true, batch, seq, bytes: line.length };
  }

  /** Fsyncs the written batches and settles them in order; returns the error when the fsync failed (nothing applied). */
  async #sync(covered: Written[]): Promise<StoreWriteError | undefined> {
    let fsyncMs = 0;
    if (covered.some((w) => w.seq !== null)) {
      const synced = await this.#journal!.sync();
      if (!synced.ok) {
        for (const w of covered) for (const call of w.batch) call.reject(synced.error);
        return synced.error;
      }
      fsyncMs = synced.fsyncMs;
    }
    const records = covered.reduce((n, w) => n + w.batch.reduce((m, call) => m + call.records.length, 0), 0);
    if (records > 0) this.#observer.batch?.(records, fsyncMs, covered.reduce((n, w) => n + w.bytes, 0));
    for (const w of covered) this.#settle(w);
    return undefined;
  }

  /** Applies a durable batch to the document and answers its callers; notes whether a checkpoint is due before they hear back. */
  #settle({ batch, seq }: Written): void {
    if (seq === null) {
      for (const call of batch) call.resolve(this.#seq);
      return;
    }
    this.#seq = seq;
    try {
      for (const call of batch) {
        for (const record of call.records) {
          if (record.kind === 'task' && record.expectedRev === null) this.#taskCount++;
          if (record.kind === 'step' && record.rev === 1) this.#taskCount++;
          if (record.kind === 'step' && record.snapshot === undefined) {
            const folded = this.#fold!(this.#doc.tasks[record.taskId], record);
            record.snapshot = folded.snapshot;
            record.version = folded.version;
          }
          if (record.kind === 'archived') {
            for (const id of record.taskIds) if (this.#doc.tasks[id] !== undefined) this.#taskCount--;
          }
          applyRecord(this.#doc, record);
        }
        this.#journalRecords += call.records.length;
        this.#fence.settle(call.records);
      }
    } catch (error) {
      for (const call of batch) call.reject(error);
      throw error;
    }
    if (this.#journalRecords >= this.#due.records || this.#clock.now() >= this.#due.at) this.#checkpointDue = true;
    for (const call of batch) call.resolve(seq);
  }


  // Nothing of a failed batch is applied; calls queued behind it may have counted on its revs.
  #refuse(batch: Call[], error: StoreWriteError): void {
    for (const call of batch) call.reject(error);
    this.#fence.clear();
    this.#queue = this.#queue.filter((call) => {
      const reserved = this.#fence.reserve(call.records);
      if (!reserved.ok) call.reject(reserved.error);
      return reserved.ok;
    });
  }

  /** A checkpoint is due and none is being written: the drain loop starts one before its next write. */
  #checkpointStarts(): boolean {
    return this.#checkpointDue && this.#checkpointing === null;
  }

  /**
   * Serializes the document as of #seq now, moves appends to the other journal file when the last checkpoint
   * covers it, and writes the checkpoint in the background while commits go on (ARCHITECTURE, Store).
   */
  async #beginCheckpoint(): Promise<void> {
    this.#checkpointDue = false;
    const seq = this.#seq;
    if (this.#journal !== null && this.#other.lastSeq <= this.#checkpointedSeq) {
      const from = this.#journal.file;
      // A failed switch leaves appends where they were; the checkpoint is still worth writing.
      if ((await this.#journal.rotate(this.#other.file)).ok) this.#other = { file: from, lastSeq: seq };
    }
    const now = this.#clock.now();
    const records = this.#journalRecords;
    const startedAt = performance.now();
    // Captured now, as of seq, and serialized a slice at a time while commits go on: what they change is not in it.
    // A checkpoint falling behind (the journal past its due length) takes larger slices, growing with the square
    // of the overrun, so the journal a crash replays stays within about twice the due length under load.
    const turn = turnTaker(() => CHECKPOINT_SLICE * Math.max(1, this.#journalRecords / this.#due.records) ** 2);
    // Deltas while they add up to less than the base: a load reads at most about twice what a base holds.
    const basis = this.#checkpointBytes.deltas < this.#checkpointBytes.base ? this.#basis : null;
    const writing = this.#writeCheckpoint(this.#doc.history.seal(this.#compactAfter, turn), captureCheckpoint(seq, this.#doc), turn, basis);
    this.#checkpointing = writing.then(async (written) => {
      this.#observer.checkpoint?.(performance.now() - startedAt, written.ok);
      if (written.ok) {
        this.#checkpoints++;
        this.#lastCheckpointAt = now;
        this.#checkpointedSeq = seq;
        this.#journalRecords -= records;
        await this.#clearOther();
      }
      // After a failure the journal still holds everything; try again after another interval's worth of work.
      this.#due = { records: written.ok ? this.#nextCheckpointRecords() : this.#journalRecords + this.#every, at: now + this.#intervalMs };
      this.#checkpointDue = this.#journalRecords >= this.#due.records || this.#clock.now() >= this.#due.at;
      this.#checkpointing = null;
      this.#wake?.();
    });
  }

  /** Empties the journal file the last checkpoint covers; a failure leaves lines a load skips. */
  async #clearOther(): Promise<void> {
    if (this.#other.lastSeq === 0 || this.#other.lastSeq > this.#checkpointedSeq) return;
    if ((await JournalWriter.clear(this.#fs, this.#other.file)).ok) this.#other = { ...this.#other, lastSeq: 0 };
  }

  /**
   * The history entries a seal holds go to the history file and are fsynced, then the checkpoint indexing
   * them replaces the old one: a crash between the two leaves bytes the old checkpoint does not index, which
   * a load cuts (their entries are still in the journal). Once it is durable, they are read from the file.
   */
  async #writeCheckpoint(sealing: Promise<HistorySeal>, captured: CapturedCheckpoint, turn: Turn, basis: CheckpointBasis | null): Promise<{ ok: true } | { ok: false; error: StoreWriteError }> {
    let seal: HistorySeal;
    let prepared: PreparedCheckpoint;
    try {
      seal = await sealing;
      // A compaction moves every task's rows: only a base says where they are.
      prepared = await captured(seal.index, turn, seal.compact ? null : basis);
    } catch (error) {
      // Nothing written: the journal still holds everything, and the next checkpoint tries again.
      this.#doc.history.abort();
      return { ok: false, error: new StoreWriteError(join(this.#dir, CHECKPOINT_FILE), error) };
    }
    const filed = await this.#historyFiles.write(seal);
    if (!filed.ok) {
      this.#doc.history.abort();
      this.#basis = null;
      return filed;
    }
    const written = await this.#writePrepared(prepared);
    // The seal's entries are on file either way. A failed write may still have reached the disk (a base renamed
    // before its directory's fsync failed, a delta line whose fsync failed) and be what a restart finds, so the
    // history it indexes must stay: its entries are taken as filed, and a file a compaction left keeps its bytes
    // for the checkpoint before. The journal keeps everything since that one, and the next checkpoint is a base.
    this.#basis = written.ok ? prepared.basis : null;
    this.#doc.history.commit(seal);
    await this.#historyFiles.committed(seal, { keepPrevious: !written.ok });
    return written;
  }

  /** A base replaces checkpoint.json and empties the deltas file; a delta is appended to it. */
  async #writePrepared(prepared: PreparedCheckpoint): Promise<{ ok: true } | { ok: false; error: StoreWriteError }> {
    if (prepared.kind === 'delta') {
      const appended = await this.#deltas!.append(prepared.pieces);
      if (appended.ok) this.#checkpointBytes.deltas += prepared.bytes;
      return appended;
    }
    const written = await this.#checkpointer.write(prepared);
    if (!written.ok) return written;
    this.#checkpointBytes = { base: prepared.bytes, deltas: 0 };
    // Every delta is at or before the base's seq now: a load skips any this fails to empty.
    await this.#deltas!.clear();
    return written;
  }

  /** The checkpoint of close(): everything, with nothing in flight; then both journal files are emptied. */
  async #finalCheckpoint(): Promise<StoreWriteError | undefined> {
    const startedAt = performance.now();
    // A base, so a clean restart reads one file.
    const written = await this.#writeCheckpoint(this.#doc.history.seal(this.#compactAfter), captureCheckpoint(this.#seq, this.#doc), noTurns, null);
    this.#observer.checkpoint?.(performance.now() - startedAt, written.ok);
    if (!written.ok) return written.error;
    this.#checkpoints++;
    this.#lastCheckpointAt = this.#clock.now();
    this.#checkpointedSeq = this.#seq;
    this.#journalRecords = 0;
    // A failed restart leaves lines at or before the checkpoint's seq, which a load skips.
    await this.#journal?.restart();
    await this.#clearOther();
    return undefined;
  }

  /**
   * A checkpoint rewrites the live document (the history file is only appended to), so it comes after a
   * journal at least twice the number of tasks: its cost per record stays constant as tasks grow, and a
   * replay stays bounded.
   */
  #nextCheckpointRecords(): number {
    return Math.max(this.#every, 2 * this.#taskCount);
  }

  #notOpen(): StoreClosedError {
    if (this.#state === 'failed') return new StoreClosedError('failed');
    return new StoreClosedError(this.#state === 'unloaded' || this.#state === 'loading' ? 'unloaded' : 'closed');
  }

  getTask(id: string): TaskRecord | undefined {
    return this.#doc.tasks[id];
  }

  listTasks(): Iterable<TaskRecord> {
    return Object.values(this.#doc.tasks);
  }

  taskCount(): number {
    return this.#taskCount;
  }

  getHistory(taskId: string, range?: HistoryRange): readonly HistoryEntry[] {
    const location = this.#doc.history.locate(taskId);
    return location === undefined ? NO_HISTORY : this.#historyFiles.read(location, range);
  }

  historySummary(taskId: string): HistorySummary | undefined {
    return this.#doc.history.summary(taskId);
  }

  hasDelivery(key: string): boolean {
    return this.#doc.deliveries.has(key);
  }

  hasDeliveryBefore(at: number): boolean {
    return this.#doc.deliveries.hasBefore(at);
  }

  taskForIssue(trackerIssueId: string): string | undefined {
    return this.#doc.issues[trackerIssueId];
  }

  get<T>(collection: Collection, id: string): T | undefined {
    return this.#doc.collections[collection][id] as T | undefined;
  }

  list<T>(collection: Collection): T[] {
    return Object.values(this.#doc.collections[collection]) as T[];
  }

  entries<T>(collection: Collection): [string, T][] {
    return Object.entries(this.#doc.collections[collection]) as [string, T][];
  }

  stats(): { seq: number; journalRecords: number; checkpoints: number; lastCheckpointAt: number | null } {
    return { seq: this.#seq, journalRecords: this.#journalRecords, checkpoints: this.#checkpoints, lastCheckpointAt: this.#lastCheckpointAt };
  }

  /** Waits for queued commits, writes a final checkpoint and releases files; rejects if that checkpoint fails (the journal still holds everything). */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    await this.#loading?.catch(() => undefined);
    if (this.#state !== 'open') {
      this.#state = 'closed';
      return;
    }
    this.#state = 'closing';
    try {
      while (this.#draining !== null || this.#checkpointing !== null) await (this.#draining ?? this.#checkpointing);
      // A checkpoint of a document that may not match the journal would make the mismatch permanent.
      const failed = this.#journalRecords > 0 && !this.#defect ? await this.#finalCheckpoint() : undefined;
      await this.#journal?.close();
      await this.#deltas?.close();
      await this.#historyFiles.close();
      if (failed !== undefined) throw failed;
    } finally {
      this.#journal = null;
      this.#state = 'closed';
    }
  }
}
