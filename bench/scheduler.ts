// Job-slot scheduler under load: 10,000 jobs, about 1,000 always queued, 8 global slots, 20 repositories of 2 slots.
// Each job's work is one setImmediate, then release; a finished job is replaced by a new request, which keeps the
// queue full. The baseline does the same with a plain array queue and shift (global limit only, nothing to skip).
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { Scheduler } from '../actors/scheduler.ts';
import type { SlotRequest } from '../actors/scheduler.ts';

const JOBS = 10_000;
const QUEUED = 1_000;
const GLOBAL_LIMIT = 8;
const REPOS = 20;
const PER_REPO_LIMIT = 2;

interface Outcome {
  jobsPerS: number;
  latencies: number[];
  maxQueued: number;
}

const job = (i: number): SlotRequest => ({ jobId: `job-${i}`, taskId: `task-${i}`, repo: `repo-${i % REPOS}`, requestedAt: i });

function runScheduler(jobs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const latencies: number[] = [];
    let cause = 0; // when the slot was freed or the request made, whichever led to the grant
    let submitted = 0;
    let finished = 0;
    let maxQueued = 0;
    let granted = 0;
    const started = performance.now();
    const s: Scheduler = new Scheduler({
      globalLimit: GLOBAL_LIMIT,
      perRepoLimit: PER_REPO_LIMIT,
      onGrant: (req) => {
        latencies.push(performance.now() - cause);
        granted++;
        setImmediate(() => {
          cause = performance.now();
          s.release(req.jobId);
          finished++;
          if (submitted < jobs) submit();
          if (finished === jobs) resolve({ jobsPerS: jobs / ((performance.now() - started) / 1000), latencies, maxQueued });
        });
      },
    });
    const submit = () => {
      cause = performance.now();
      s.request(job(submitted++));
      maxQueued = Math.max(maxQueued, submitted - granted);
    };
    while (submitted < Math.min(jobs, QUEUED + GLOBAL_LIMIT)) submit();
  });
}

function runBaseline(jobs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const latencies: number[] = [];
    const queue: SlotRequest[] = [];
    const running = new Map<string, SlotRequest>();
    let cause = 0;
    let submitted = 0;
    let finished = 0;
    let maxQueued = 0;
    const started = performance.now();
    const dispatch = () => {
      while (running.size < GLOBAL_LIMIT && queue.length > 0) {
        const req = queue.shift() as SlotRequest;
        running.set(req.jobId, req);
        latencies.push(performance.now() - cause);
        setImmediate(() => {
          cause = performance.now();
          running.delete(req.jobId);
          dispatch();
          finished++;
          if (submitted < jobs) submit();
          if (finished === jobs) resolve({ jobsPerS: jobs / ((performance.now() - started) / 1000), latencies, maxQueued });
        });
      }
    };
    const submit = () => {
      cause = performance.now();
      queue.push(job(submitted++));
      dispatch();
      maxQueued = Math.max(maxQueued, queue.length);
    };
    while (submitted < Math.min(jobs, QUEUED + GLOBAL_LIMIT)) submit();
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

const round = (n: number, digits = 4): number => Number(n.toFixed(digits));

/** Runs the scheduler and the baseline (after a warm-up of each) and returns their figures. */
export async function run(): Promise<Record<string, number>> {
  await runScheduler(2_000);
  await runBaseline(2_000);
  const sched = await runScheduler(JOBS);
  const base = await runBaseline(JOBS);
  const s = [...sched.latencies].sort((a, b) => a - b);
  const b = [...base.latencies].sort((a, b) => a - b);
  return {
    jobs: JOBS,
    max_queued: sched.maxQueued,
    jobs_per_s: Math.round(sched.jobsPerS),
    dispatch_p50_ms: round(percentile(s, 50)),
    dispatch_p99_ms: round(percentile(s, 99)),
    dispatch_max_ms: round(s[s.length - 1] ?? NaN),
    baseline_jobs_per_s: Math.round(base.jobsPerS),
    baseline_dispatch_p50_ms: round(percentile(b, 50)),
    baseline_dispatch_p99_ms: round(percentile(b, 99)),
    baseline_dispatch_max_ms: round(b[b.length - 1] ?? NaN),
    jobs_per_s_ratio: round(sched.jobsPerS / base.jobsPerS, 3),
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await run();
  const rows: [string, number | string, number | string][] = [
    ['jobs/s', r.jobs_per_s ?? '', r.baseline_jobs_per_s ?? ''],
    ['dispatch p50 (ms)', r.dispatch_p50_ms ?? '', r.baseline_dispatch_p50_ms ?? ''],
    ['dispatch p99 (ms)', r.dispatch_p99_ms ?? '', r.baseline_dispatch_p99_ms ?? ''],
    ['dispatch max (ms)', r.dispatch_max_ms ?? '', r.baseline_dispatch_max_ms ?? ''],
  ];
  console.log(`scheduler: ${JOBS} jobs, up to ${r.max_queued} queued, global ${GLOBAL_LIMIT}, ${REPOS} repos x ${PER_REPO_LIMIT}`);
  console.log(`${'metric'.padEnd(20)}${'scheduler'.padStart(12)}${'array+shift'.padStart(14)}`);
  for (const [name, a, b] of rows) console.log(`${name.padEnd(20)}${String(a).padStart(12)}${String(b).padStart(14)}`);
  console.log(`jobs/s ratio (scheduler / baseline): ${r.jobs_per_s_ratio}`);
  console.log(`BENCH scheduler ${JSON.stringify(r)}`);
}
