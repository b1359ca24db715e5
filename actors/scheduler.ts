import { IndexedHeap } from './indexed-heap.ts';
/** A job waiting for, or holding, a slot. */
export interface SlotRequest {
  jobId: string;
  taskId: string;
  repo: string;
  /** The pipeline stage the job works on; per-stage limits count by it. */
  stage?: string;
  requestedAt: number;
}

/** Limits and callbacks of the job-slot scheduler. */
export interface SchedulerOptions {
  globalLimit: number;
  /** One limit for every repository, or a limit per repository with `'*'` as the default (no per-repo limit when absent). */
  perRepoLimit: number | Record<string, number>;
  /** At most this many jobs of a stage run at once; a stage not named has no limit of its own. */
  perStageLimit?: Record<string, number>;
  /** Free memory in bytes now (os.freemem in production), and the floor under which no job starts. */
  memory?: { free: () => number; floorBytes: number };
  /** Called when free memory under the floor stopped a grant; the owner calls `reconsider()` later to try again. */
  onMemoryHold?: (freeBytes: number) => void;
  /** False while the task's dependencies are not all done; such requests wait without holding a slot. */
  isRunnable?: (taskId: string) => boolean;
  /** Called synchronously when a slot is granted; it may call back into the scheduler. */
  onGrant: (req: SlotRequest) => void;
}

/** Counts of queued and running jobs, overall and per repository. */
export interface SchedulerStats {
  queued: number;
  running: number;
  byRepo: Record<string, { queued: number; running: number }>;
  /** Running jobs per stage, and queued ones waiting for their stage's limit. */
  byStage: Record<string, { running: number; held: number }>;
  /** True while free memory under the floor keeps queued jobs from starting. */
  memoryHeld: boolean;
  granted_total: number;
}

interface Entry {
  req: SlotRequest;
  /** Arrival order, the tie-break between equal requestedAt. */
  seq: number;
  /** parked: its task is not runnable; held: its stage is at its limit. */
  state: 'queued' | 'parked' | 'held' | 'running';
  /** Position in the repository's queue heap, -1 when not in it. */
  pos: number;
  repo: RepoState;
}

interface RepoState {
  name: string;
  limit: number;
  /** Queued requests that have not been found unrunnable, earliest first. */
  queue: IndexedHeap<Entry>;
  queued: number;
  running: number;
  /** Position in the heap of repository heads, -1 when the repository cannot be granted a slot now. */
  pos: number;
}

const earlier = (a: Entry, b: Entry): boolean =>
  a.req.requestedAt < b.req.requestedAt || (a.req.requestedAt === b.req.requestedAt && a.seq < b.seq);

/**
 * Grants job slots first come, first served, within a global, a per-repository and a per-stage limit, and
 * only while free memory is above its floor.
 *
 * Each repository keeps its own queue; a small heap orders the repositories that could take a slot by their
 * earliest request, so a grant costs O(log n) whatever the queue length. A request whose task is not runnable is
 * parked under its task when it reaches the front and goes back to its place on `reconsider()`; one whose stage
 * is full is held under its stage and goes back when a job of that stage is released.
 */
export class Scheduler {
  private readonly opts: SchedulerOptions;
  private readonly entries = new Map<string, Entry>();
  private readonly repos = new Map<string, RepoState>();
  private readonly heads = new IndexedHeap<RepoState>(
    (a, b) => earlier(a.queue.peek() as Entry, b.queue.peek() as Entry),
    (r, i) => { r.pos = i; },
  );
  private readonly parked = new Map<string, Set<Entry>>();
  private readonly runningJobs = new Map<string, Entry>();
  /** Per limited stage: jobs running, and queued ones set aside until one of them finishes. */
  private readonly stages = new Map<string, { running: number; held: Set<Entry> }>();
  private memoryHeld = false;
  private seq = 0;
  private queuedCount = 0;
  private grantedTotal = 0;
  private dispatching = false;

  constructor(opts: SchedulerOptions) {
    checkLimit('globalLimit', opts.globalLimit);
    const limits = typeof opts.perRepoLimit === 'number' ? { '*': opts.perRepoLimit } : opts.perRepoLimit;
    for (const [repo, n] of Object.entries(limits)) checkLimit(`perRepoLimit[${repo}]`, n);
    for (const [stage, n] of Object.entries(opts.perStageLimit ?? {})) {
      checkLimit(`perStageLimit[${stage}]`, n);
      this.stages.set(stage, { running: 0, held: new Set() });
    }
    this.opts = opts;
  }

  request(req: SlotRequest): void {
    if (this.entries.has(req.jobId)) return;
    if (!Number.isFinite(req.requestedAt)) throw new Error(`scheduler: requestedAt of job ${req.jobId} is not a finite number`);
    const repo = this.repoState(req.repo);
    const entry: Entry = { req: { ...req }, seq: this.seq++, state: 'queued', pos: -1, repo };
    this.entries.set(req.jobId, entry);
    repo.queue.push(entry);
    repo.queued++;
    this.queuedCount++;
    this.refresh(repo);
    this.dispatch();
  }

  release(jobId: string): void {
    const entry = this.entries.get(jobId);
    if (entry === undefined) return;
    this.detach(entry);
    this.refresh(entry.repo);
    this.dispatch();
  }

  /** Withdraws a queued request; a running job keeps its slot until it is released. Returns whether a request was withdrawn. */
  cancel(jobId: string): boolean {
    const entry = this.entries.get(jobId);
    if (entry === undefined || entry.state === 'running') return false;
    this.release(jobId);
    return true;
  }

  /** Puts parked requests back in line whose tasks became runnable (only those of `taskIds` when given), then grants. */
  reconsider(taskIds?: Iterable<string>): void {
    for (const taskId of taskIds ?? [...this.parked.keys()]) {
      const entries = this.parked.get(taskId);
      if (entries === undefined || !this.runnable(taskId)) continue;
      this.parked.delete(taskId);
      for (const entry of entries) {
        entry.state = 'queued';
        entry.repo.queue.push(entry);
        this.refresh(entry.repo);
      }
    }
    this.dispatch();
  }

  /** Whether the job is queued, parked or running here: from its request until its release. */
  holds(jobId: string): boolean {
    return this.entries.has(jobId);
  }

  /** Re-establish a grant after restart without calling onGrant (the job is already running). */
  adopt(req: SlotRequest): void {
    const known = this.entries.get(req.jobId);
    if (known?.state === 'running') return;
    if (known !== undefined) {
      this.detach(known);
      this.refresh(known.repo);
    }
    const repo = this.repoState(req.repo);
    const entry: Entry = { req: { ...req }, seq: this.seq++, state: 'running', pos: -1, repo };
    this.entries.set(req.jobId, entry);
    this.runningJobs.set(req.jobId, entry);
    repo.running++;
    const stage = this.stageOf(entry);
    if (stage) stage.running++;
    // An adopted job may take the repository over its limit; the limit holds again as jobs finish.
    this.refresh(repo);
  }

  stats(): SchedulerStats {
    const byRepo: SchedulerStats['byRepo'] = {};
    for (const r of this.repos.values()) byRepo[r.name] = { queued: r.queued, running: r.running };
    const byStage: SchedulerStats['byStage'] = {};
    for (const [name, s] of this.stages) byStage[name] = { running: s.running, held: s.held.size };
    return { queued: this.queuedCount, running: this.runningJobs.size, byRepo, byStage, memoryHeld: this.memoryHeld, granted_total: this.grantedTotal };
  }

  /** Queued requests, parked ones included, in the order they would be granted if all were runnable. */
  queued(): SlotRequest[] {
    const waiting = [...this.entries.values()].filter((e) => e.state !== 'running');
    return waiting.sort((a, b) => (earlier(a, b) ? -1 : 1)).map((e) => ({ ...e.req }));
  }

  /** Running jobs in the order they were granted or adopted. */
  running(): SlotRequest[] {
    return [...this.runningJobs.values()].map((e) => ({ ...e.req }));
  }

  private dispatch(): void {
    // A call from inside onGrant only updates the counts; the outer loop below sees them and keeps granting.
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      while (this.runningJobs.size < this.opts.globalLimit) {
        const repo = this.heads.peek();
        if (repo === undefined) break;
        if (this.lowOnMemory()) break;
        const entry = repo.queue.pop() as Entry;
        if (!this.runnable(entry.req.taskId)) {
          this.park(entry);
          this.refresh(repo);
          continue;
        }
        const stage = this.stageOf(entry);
        if (stage && stage.running >= (this.opts.perStageLimit?.[entry.req.stage ?? ''] ?? Infinity)) {
          entry.state = 'held';
          stage.held.add(entry);
          this.refresh(repo);
          continue;
        }
        if (stage) stage.running++;
        entry.state = 'running';
        repo.queued--;
        repo.running++;
        this.queuedCount--;
        this.runningJobs.set(entry.req.jobId, entry);
        this.grantedTotal++;
        this.refresh(repo);
        this.opts.onGrant({ ...entry.req });
      }
    } finally {
      this.dispatching = false;
    }
  }

  /** Whether free memory is under the floor now; checked before each grant, since each job takes its share. */
  private lowOnMemory(): boolean {
    const memory = this.opts.memory;
    if (!memory || memory.floorBytes <= 0) return false;
    const free = memory.free();
    this.memoryHeld = free < memory.floorBytes;
    if (this.memoryHeld) this.opts.onMemoryHold?.(free);
    return this.memoryHeld;
  }

  /** The counts of the entry's stage when that stage is limited. */
  private stageOf(entry: Entry): { running: number; held: Set<Entry> } | undefined {
    return entry.req.stage === undefined ? undefined : this.stages.get(entry.req.stage);
  }

  private runnable(taskId: string): boolean {
    return this.opts.isRunnable?.(taskId) ?? true;
  }

  private park(entry: Entry): void {
    entry.state = 'parked';
    const set = this.parked.get(entry.req.taskId);
    if (set === undefined) this.parked.set(entry.req.taskId, new Set([entry]));
    else set.add(entry);
  }

  /** Forgets a job wherever it is; the caller refreshes its repository. */
  private detach(entry: Entry): void {
    const { repo } = entry;
    this.entries.delete(entry.req.jobId);
    switch (entry.state) {
      case 'running': {
        this.runningJobs.delete(entry.req.jobId);
        repo.running--;
        const stage = this.stageOf(entry);
        if (stage) {
          stage.running--;
          // A slot of the stage is free: the jobs set aside for it go back in line, in their order.
          for (const held of stage.held) {
            held.state = 'queued';
            held.repo.queue.push(held);
            this.refresh(held.repo);
          }
          stage.held.clear();
        }
        return;
      }
      case 'held':
        this.stageOf(entry)?.held.delete(entry);
        break;
      case 'queued':
        repo.queue.removeAt(entry.pos);
        break;
      case 'parked': {
        const set = this.parked.get(entry.req.taskId);
        set?.delete(entry);
        if (set?.size === 0) this.parked.delete(entry.req.taskId);
        break;
      }
      default: {
        const never: never = entry.state;
        throw new Error(`scheduler: unknown entry state ${String(never)}`);
      }
    }
    repo.queued--;
    this.queuedCount--;
  }

  private repoState(name: string): RepoState {
    let repo = this.repos.get(name);
    if (repo === undefined) {
      const queue = new IndexedHeap<Entry>(earlier, (e, i) => { e.pos = i; });
      repo = { name, limit: this.limitOf(name), queue, queued: 0, running: 0, pos: -1 };
      this.repos.set(name, repo);
    }
    return repo;
  }

  private limitOf(repo: string): number {
    const { perRepoLimit } = this.opts;
    if (typeof perRepoLimit === 'number') return perRepoLimit;
    return perRepoLimit[repo] ?? perRepoLimit['*'] ?? Infinity;
  }

  /** Keeps the repository in the heap of heads exactly while it has a queued request and a free repository slot. */
  private refresh(repo: RepoState): void {
    const eligible = repo.queue.size > 0 && repo.running < repo.limit;
    if (eligible) {
      if (repo.pos < 0) this.heads.push(repo);
      else this.heads.update(repo.pos);
    } else if (repo.pos >= 0) {
      this.heads.removeAt(repo.pos);
    }
    if (repo.queued === 0 && repo.running === 0) this.repos.delete(repo.name);
  }
}

function checkLimit(name: string, n: number): void {
  if (!(n === Infinity || (Number.isInteger(n) && n >= 0))) throw new Error(`scheduler: ${name} must be a non-negative integer, got ${n}`);
}
