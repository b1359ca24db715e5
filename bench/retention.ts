// Memory and files over months of work: tasks are created and carried to done (jobs, journaled merge and
// deploys, webhook deliveries) on a simulated clock while the retention sweep runs as in production.
// Heap after gc, checkpoint, journal and archive bytes per simulated month; they should stay flat.
// `npm run bench -- retention` (3,000 tasks over 3 months) or `npm run bench -- retention --tasks 100000 --months 12`.
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { openConveyor, startBackground, Workbench, type CommittedTransition, type Conveyor, type SendOptions, type TaskEventInput } from '../actors/index.ts';
import { defaultTrackerRouting } from '../server/default-tracker.ts';
import { SimClock } from '../sim/clock.ts';
import { QuietForge, quietAgents, quietDeploy, quietGit, shaOf } from './support/quiet-world.ts';

const DAY = 24 * 3_600_000;
const REPO = 'shop';
const START = Date.UTC(2026, 0, 1);
/** Tasks carried through the pipeline at once, as webhooks arrive for many tasks together. */
const CONCURRENCY = 100;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const n = i < 0 ? fallback : Number(process.argv[i + 1]);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`bench retention: --${name} must be a positive whole number`);
  return n;
}

/** Resolves when a task's committed state is the one named. */
class Arrivals {
  readonly #waits = new Map<string, { state: string; resolve: () => void }>();

  constructor(private readonly conveyor: Conveyor) {
    conveyor.runtime.onCommitted((t: CommittedTransition) => {
      const wait = this.#waits.get(t.taskId);
      if (wait && t.to === wait.state) {
        this.#waits.delete(t.taskId);
        wait.resolve();
      }
    });
  }

  reach(taskId: string, state: string): Promise<void> {
    if (this.conveyor.runtime.describe(taskId) === state) return Promise.resolve();
    return new Promise((resolve) => this.#waits.set(taskId, { state, resolve }));
  }
}

/** One task from its tracker issue to production, with the facts the tracker, forge and agents would send. */
async function carry(conveyor: Conveyor, arrivals: Arrivals, forge: QuietForge, n: number): Promise<void> {
  const hook = (key: string): SendOptions => ({ source: 'webhook', deliveryKey: `forge:${n}:${key}` });
  const sha = shaOf(n);
  const { taskId } = await conveyor.createTask({ repo: REPO, title: `Change ${n}: retry charge webhooks idempotently`, trackerIssueId: `ISSUE-${n}` }, { source: 'webhook', deliveryKey: `tracker:${n}` });
  const step = async (state: string, events: [TaskEventInput, SendOptions][]) => {
    await arrivals.reach(taskId, state);
    for (const [event, opts] of events) await conveyor.send(taskId, event, opts);
  };
  await step('analysis.gating', [[{ type: 'analysis.approved', by: 'pat' }, { source: 'operator' }]]);
  await step('development.gating', [
    [{ type: 'pr.opened', number: n, sha }, hook('opened')],
    [{ type: 'ci.status', sha, state: 'success', context: 'ci/build' }, hook('ci')],
  ]);
  await step('review.gating', [[{ type: 'review.verdict', sha, verdict: 'approved' }, { source: 'job' }]]);
  await step('testing.gating', [[{ type: 'test.result', sha, passed: true }, { source: 'job' }]]);
  await step('deploy-staging.gating', [[{ type: 'deploy.status', environment: 'staging', state: 'success' }, { source: 'job' }]]);
  await step('deploy.gating', [[{ type: 'deploy.status', environment: 'production', state: 'success' }, { source: 'job' }]]);
  await arrivals.reach(taskId, 'done');
  forge.forget(n);
}

async function bytesIn(dir: string): Promise<number> {
  try {
    let total = 0;
    for (const f of await readdir(dir)) total += (await stat(join(dir, f))).size;
    return total;
  } catch {
    return 0;
  }
}

const fileSize = (path: string) => stat(path).then((s) => s.size, () => 0);

interface Sample {
  month: number;
  tasks: number;
  live: number;
  heapMb: number;
  checkpointKb: number;
  journalKb: number;
  archiveKb: number;
}

export async function run(): Promise<Record<string, number>> {
  const total = flag('tasks', 3_000);
  const months = flag('months', 3);
  // In memory when the machine has /dev/shm: the figures are bytes and heap, and fsyncs would only cost time.
  const dir = await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'conveyor-bench-retention-'));
  const clock = new SimClock(START);
  const forge = new QuietForge();
  const workbench = new Workbench({
    dataDir: dir,
    repos: [{ name: REPO, remote: 'quiet://acme/shop', targetBranch: 'main', forge: { kind: 'gitea', apiBase: 'http://forge.quiet/api/v1', owner: 'acme', repo: 'shop', token: 't' } }],
    deploy: { staging: ['deploy', 'staging'], production: ['deploy', 'production'] },
    agents: Object.fromEntries(['analyst', 'developer', 'reviewer', 'tester', 'deployer'].map((a) => [a, { executor: quietAgents(() => clock.now()) }])),
    world: { git: quietGit, fetch: forge.fetch, runCommand: quietDeploy },
  });
  const conveyor = await openConveyor({ dataDir: dir, workbench, world: { clock } });
  // The background actors as production starts them, the retention sweep hourly among them; the
  // reconciler and reaper daily, as nothing here is ever stuck and their sweeps would only cost time.
  const background = startBackground(conveyor, {
    config: null, tracker: defaultTrackerRouting, env: {}, log: () => undefined,
    overrides: { clock, config: { reconciler: { intervalMs: DAY }, reaper: { intervalMs: DAY } }, alive: () => false, kill: async () => undefined },
  });
  const arrivals = new Arrivals(conveyor);
  const samples: Sample[] = [];
  const sample = async (month: number, done: number) => {
    gc();
    samples.push({
      month, tasks: done, live: conveyor.status().tasks.total,
      heapMb: Math.round(process.memoryUsage().heapUsed / 1e5) / 10,
      checkpointKb: Math.round((await fileSize(join(dir, 'checkpoint.json'))) / 1024),
      journalKb: Math.round((await fileSize(join(dir, 'journal.jsonl'))) / 1024),
      archiveKb: Math.round((await bytesIn(join(dir, 'archive'))) / 1024),
    });
  };
  const started = performance.now();
  let done = 0;
  try {
    await sample(0, 0);
    const perDay = total / (months * 30);
    for (let day = 1; day <= months * 30; day++) {
      // The day's tasks, carried in groups, each group at its own hour of the day.
      const target = Math.round(perDay * day);
      while (done < target) {
        const group = Array.from({ length: Math.min(CONCURRENCY, target - done) }, (_, i) => done + i + 1);
        await Promise.all(group.map((n) => carry(conveyor, arrivals, forge, n)));
        done += group.length;
      }
      // The rest of the day passes: conveyor's timers (the retention sweep's among them) fire.
      const endOfDay = START + day * DAY;
      clock.later(endOfDay - clock.now(), () => undefined);
      while (clock.runNext(endOfDay)) await background.settled();
      if (day % 30 === 0) {
        await sample(day / 30, done);
        process.stderr.write(`retention: month ${day / 30}: ${JSON.stringify(samples.at(-1))}\n`);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    await conveyor.stop();
    const first = samples[1] ?? samples[0]!;
    const last = samples.at(-1)!;
    const figures: Record<string, number> = {
      tasks: total,
      simulated_months: months,
      live_tasks_end: last.live,
      heap_start_mb: samples[0]!.heapMb,
      heap_month1_mb: first.heapMb,
      heap_end_mb: last.heapMb,
      checkpoint_month1_kb: first.checkpointKb,
      checkpoint_end_kb: last.checkpointKb,
      checkpoint_closed_kb: Math.round((await fileSize(join(dir, 'checkpoint.json'))) / 1024),
      journal_end_kb: last.journalKb,
      archive_end_kb: last.archiveKb,
      retention_sweeps: background.retention?.stats.sweeps ?? 0,
      tasks_per_second: Math.round(total / seconds),
    };
    report.samples = samples;
    return figures;
  } finally {
    await conveyor.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The table of each simulated month, then the figures. */
export function report(f: Record<string, number>): string {
  const cols: (keyof Sample)[] = ['month', 'tasks', 'live', 'heapMb', 'checkpointKb', 'journalKb', 'archiveKb'];
  const row = (values: unknown[]) => values.map((v) => String(v).padStart(13)).join('');
  return [
    `retention: ${f.tasks} tasks carried to done over ${f.simulated_months} simulated months, archived after 30 days`,
    row(['month', 'tasks done', 'live tasks', 'heap MB', 'checkpoint KB', 'journal KB', 'archive KB']),
    ...report.samples.map((s) => row(cols.map((c) => s[c]))),
    `checkpoint after a clean stop: ${f.checkpoint_closed_kb} KB; ${f.tasks_per_second} tasks/s`,
  ].join('\n');
}
report.samples = [] as Sample[];
