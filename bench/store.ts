// Commit latency of the embedded store against the naive lowdb use (whole document rewritten per transition).
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Low } from 'lowdb';
import { JSONFile } from 'lowdb/node';
import { EmbeddedStore } from '../store/index.ts';
import type { HistoryEntry, StoreObserver, StoreRecord, TaskRecord } from '../store/index.ts';

const SMALL = 100;
const LARGE = 10_000;
const WARMUP = 200;
const COMMITS = 2000;
const CONCURRENT_LANES = 50;
const CONCURRENT_COMMITS = 5000;
/** The naive baseline at 10,000 tasks costs a whole-file rewrite per commit; bound it by time. */
const NAIVE_BUDGET_MS = 12_000;
const NAIVE_MIN_SAMPLES = 20;

/** A persisted task actor of about 1.5 KB, shaped like an XState snapshot mid-pipeline. */
function snapshot(id: string, rev: number): unknown {
  return {
    status: 'active',
    value: { build: 'gating' },
    historyValue: {},
    context: {
      taskId: id,
      repo: 'acme/payments-service',
      branch: `conveyor/${id}-retry-idempotent-charge-webhooks`,
      baseSha: '4f1c2a9e0b7d3c6a5e8f9d0c1b2a3e4f5d6c7b8a',
      headSha: `${rev.toString(16).padStart(8, '0')}e0b7d3c6a5e8f9d0c1b2a3e4f5d6c7b8`,
      stage: 'build',
      attempt: rev % 3,
      maxAttempts: 3,
      deadlineAt: 1_700_000_000_000 + rev * 1000,
      pullRequest: { number: 4312, url: 'https://forge.example.com/acme/payments-service/pulls/4312', draft: false },
      ci: { sha: 'e0b7d3c6', status: 'pending', checks: [{ name: 'unit', status: 'success' }, { name: 'integration', status: 'pending' }] },
      verdict: null,
      labels: ['payments', 'webhooks', 'p1'],
      lastError: null,
      gates: { build: { ci: 'pending', review: null, staging: null }, review: { required: 1, approvals: [] } },
      effects: [
        { key: `${id}:open-pr:1:0`, status: 'completed', at: 1_700_000_000_000 },
        { key: `${id}:sync-worktree:1:0`, status: 'completed', at: 1_700_000_001_000 },
      ],
      agent: { name: 'builder', jobId: `job-${id}-${rev}`, startedAt: 1_700_000_000_000, bootId: 'boot-7f3a' },
      notes:
        'Charge webhooks are retried by the provider with the same idempotency key; the handler must treat a ' +
        'second delivery as a no-op and answer 200, and the ledger write must be keyed on the provider event id. ' +
        'Integration tests replay a captured delivery twice and assert one ledger row.',
    },
    children: { runAgent: { snapshot: { status: 'active', input: { taskId: id, stage: 'build' } }, src: 'runAgent', syncSnapshot: false } },
  };
}

function task(id: string, rev: number): TaskRecord {
  return {
    id,
    machineId: 'task',
    version: 1,
    rev,
    meta: { repo: 'acme/payments-service', title: `Retry idempotent charge webhooks (${id})`, trackerIssueId: `PAY-${id}`, branch: `conveyor/${id}`, createdAt: 1_700_000_000_000 },
    snapshot: snapshot(id, rev),
  };
}

function entry(rev: number): HistoryEntry {
  return { at: 1_700_000_000_000 + rev, source: 'webhook', event: { type: 'ci.status', sha: 'e0b7d3c6', status: 'success' }, accepted: true, from: 'build.gating', to: 'build.gating' };
}

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? Number.NaN;
}

const round = (n: number): number => Math.round(n * 1000) / 1000;

interface Figures {
  p50: number;
  p99: number;
  samples: number;
  extra: Record<string, number>;
}

/** What the store reports of each journal write, while the concurrent phase runs. */
const seen = { on: false, records: [] as number[], bytes: [] as number[], fsyncMs: [] as number[] };
const batches: StoreObserver = {
  batch: (records, fsyncMs, bytes) => {
    if (!seen.on) return;
    seen.records.push(records);
    seen.bytes.push(bytes);
    seen.fsyncMs.push(fsyncMs);
  },
};

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/** Commits from many callers at once (group commit): throughput, batch size and bytes, fsync time. */
async function concurrent(store: EmbeddedStore, tasks: number, revs: number[]): Promise<Record<string, number>> {
  Object.assign(seen, { on: true, records: [], bytes: [], fsyncMs: [] });
  let next = 0;
  const began = performance.now();
  // One lane per task slice, so no two lanes write the same task (its rev fence would refuse the second).
  const lane = async (l: number) => {
    for (let i = l; next < CONCURRENT_COMMITS; i += CONCURRENT_LANES) {
      next++;
      const id = i % tasks;
      const rev = (revs[id] ?? 0) + 1;
      revs[id] = rev;
      await store.commit([{ kind: 'task', task: task(`t${id}`, rev), expectedRev: rev - 1 }, { kind: 'history', taskId: `t${id}`, entry: entry(rev) }]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENT_LANES, tasks) }, (_, l) => lane(l)));
  const ms = performance.now() - began;
  seen.on = false;
  return {
    concurrent_commits_per_s: Math.round(next / (ms / 1000)),
    batch_records_mean: round(mean(seen.records)),
    batch_bytes_mean: Math.round(mean(seen.bytes)),
    fsync_ms_p50: round(percentile(seen.fsyncMs, 0.5)),
    fsync_ms_p99: round(percentile(seen.fsyncMs, 0.99)),
  };
}

async function embedded(tasks: number): Promise<Figures> {
  const dir = await mkdtemp(join(tmpdir(), 'conveyor-bench-store-'));
  try {
    const store = new EmbeddedStore({ dir, observer: batches });
    await store.load();
    const revs: number[] = [];
    for (let start = 0; start < tasks; start += 500) {
      const batch: StoreRecord[] = [];
      for (let i = start; i < Math.min(tasks, start + 500); i++) {
        batch.push({ kind: 'task', task: task(`t${i}`, 1), expectedRev: null });
        revs.push(1);
      }
      await store.commit(batch);
    }
    const samples: number[] = [];
    for (let n = 0; n < WARMUP + COMMITS; n++) {
      const i = n % tasks;
      const rev = (revs[i] ?? 0) + 1;
      const records: StoreRecord[] = [
        { kind: 'task', task: task(`t${i}`, rev), expectedRev: rev - 1 },
        { kind: 'history', taskId: `t${i}`, entry: entry(rev) },
      ];
      const started = performance.now();
      await store.commit(records);
      const took = performance.now() - started;
      revs[i] = rev;
      if (n >= WARMUP) samples.push(took);
    }
    const grouped = await concurrent(store, tasks, revs);
    const closing = performance.now();
    await store.close();
    const checkpointMs = performance.now() - closing;
    const checkpointBytes = (await stat(join(dir, 'checkpoint.json'))).size;
    return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99), samples: samples.length, extra: { checkpoint_ms: checkpointMs, checkpoint_bytes: checkpointBytes, ...grouped } };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface NaiveData {
  tasks: Record<string, TaskRecord>;
  history: Record<string, HistoryEntry[]>;
}

async function naive(tasks: number): Promise<Figures> {
  const dir = await mkdtemp(join(tmpdir(), 'conveyor-bench-naive-'));
  try {
    const db = new Low<NaiveData>(new JSONFile(join(dir, 'db.json')), { tasks: {}, history: {} });
    for (let i = 0; i < tasks; i++) {
      db.data.tasks[`t${i}`] = task(`t${i}`, 1);
      db.data.history[`t${i}`] = [];
    }
    await db.write();
    const samples: number[] = [];
    const warmup = tasks >= LARGE ? 3 : WARMUP;
    const began = performance.now();
    for (let n = 0; n < warmup + COMMITS; n++) {
      if (tasks >= LARGE && n >= warmup + NAIVE_MIN_SAMPLES && performance.now() - began > NAIVE_BUDGET_MS) break;
      const id = `t${n % tasks}`;
      const started = performance.now();
      const current = db.data.tasks[id] as TaskRecord;
      db.data.tasks[id] = task(id, current.rev + 1);
      db.data.history[id]?.push(entry(current.rev + 1));
      await db.write();
      const took = performance.now() - started;
      if (n >= warmup) samples.push(took);
    }
    return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99), samples: samples.length, extra: {} };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Measures commit latency at 100 and 10,000 live tasks for the embedded store and the naive baseline. */
export async function run(): Promise<Record<string, number>> {
  const e100 = await embedded(SMALL);
  const e10k = await embedded(LARGE);
  const n100 = await naive(SMALL);
  const n10k = await naive(LARGE);
  return {
    snapshot_bytes: Buffer.byteLength(JSON.stringify(snapshot('t0', 1))),
    task_record_bytes: Buffer.byteLength(JSON.stringify(task('t0', 1))),
    embedded_p50_ms_100: round(e100.p50),
    embedded_p99_ms_100: round(e100.p99),
    embedded_samples_100: e100.samples,
    embedded_p50_ms_10k: round(e10k.p50),
    embedded_p99_ms_10k: round(e10k.p99),
    embedded_samples_10k: e10k.samples,
    embedded_p50_ratio: round(e10k.p50 / e100.p50),
    embedded_close_checkpoint_ms_10k: round(e10k.extra.checkpoint_ms ?? Number.NaN),
    embedded_checkpoint_bytes_10k: e10k.extra.checkpoint_bytes ?? Number.NaN,
    ...Object.fromEntries(Object.entries(e10k.extra).filter(([k]) => !k.startsWith('checkpoint')).map(([k, v]) => [`grouped_${k}_10k`, v])),
    naive_p50_ms_100: round(n100.p50),
    naive_p99_ms_100: round(n100.p99),
    naive_samples_100: n100.samples,
    naive_p50_ms_10k: round(n10k.p50),
    naive_p99_ms_10k: round(n10k.p99),
    naive_samples_10k: n10k.samples,
    naive_p50_ratio: round(n10k.p50 / n100.p50),
  };
}

function table(figures: Record<string, number>): string {
  const row = (label: string, suffix: string): string => {
    const cell = (key: string): string => String(figures[`${key}${suffix}`] ?? '').padStart(15);
    return `${label.padEnd(20)}${cell('embedded_p50_ms')}${cell('embedded_p99_ms')}${cell('naive_p50_ms')}${cell('naive_p99_ms')}`;
  };
  const heads = ['embedded p50', 'embedded p99', 'naive p50', 'naive p99'].map((h) => h.padStart(15)).join('');
  return [
    `commit latency, one task update + one history entry per commit, fsync on (snapshot ${figures.snapshot_bytes} bytes)`,
    `${''.padEnd(20)}${heads}`,
    row(`${SMALL} tasks (ms)`, '_100'),
    row(`${LARGE} tasks (ms)`, '_10k'),
    `p50 ratio 10k/100: embedded ${figures.embedded_p50_ratio} (target <= 1.5), naive ${figures.naive_p50_ratio}`,
    'naive: lowdb db.write() of the whole document per commit, as lowdb ships it (temp file + rename, no fsync)',
    `samples: embedded ${figures.embedded_samples_100}/${figures.embedded_samples_10k}, naive ${figures.naive_samples_100}/${figures.naive_samples_10k}`,
    `embedded close (final checkpoint) at 10k tasks: ${figures.embedded_close_checkpoint_ms_10k} ms, ${figures.embedded_checkpoint_bytes_10k} bytes`,
    `grouped, ${CONCURRENT_LANES} callers at 10k tasks: ${figures.grouped_concurrent_commits_per_s_10k} commits/s, ` +
      `${figures.grouped_batch_records_mean_10k} records and ${figures.grouped_batch_bytes_mean_10k} bytes per fsynced write, ` +
      `fsync p50 ${figures.grouped_fsync_ms_p50_10k} ms, p99 ${figures.grouped_fsync_ms_p99_10k} ms`,
  ].join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const figures = await run();
  console.log(table(figures));
  console.log(`BENCH store ${JSON.stringify(figures)}`);
}
