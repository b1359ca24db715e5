// Seeds a data directory the way a running conveyor would leave it: tasks created through the runtime, rested at
// their first gate, and (when asked) each given many history entries by webhook-like events, then closed cleanly.
import { Conveyor, loadConfig, pipelineFromConfig } from '../../actors/index.ts';
import { EmbeddedStore } from '../../store/index.ts';

const CONCURRENCY = 500;

/** Runs `work(i)` for i in 0..count-1, `CONCURRENCY` at a time. */
async function lanes(count: number, work: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) await work(next++);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
}

/** Waits until every task rests at the analysis gate with no work in flight. */
async function settled(conveyor: Conveyor, count: number): Promise<void> {
  for (;;) {
    const resting = conveyor.tasks({ stage: 'analysis' }).filter((t) => t.state === 'analysis.gating').length;
    if (resting === count && conveyor.runtime.liveCount() === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** What seeding left in the directory: each task's branch and pull-request head, for the load generator to name. */
export interface Seeded {
  targets: { branch: string; sha: string }[];
  createMs: number;
  historyMs: number;
}

/**
 * Creates `tasks` tasks of `repo` under the pipeline of the configuration at `configPath` (no agents: each rests
 * at analysis.gating) with a pull request each, then sends each `historyPerTask` CI statuses, and closes the store
 * with a checkpoint.
 */
export async function seed(dir: string, configPath: string, o: { repo: string; tasks: number; historyPerTask: number }): Promise<Seeded> {
  const config = loadConfig(configPath);
  if (!config.ok) throw new Error(`bench: ${configPath} is not valid: ${config.errors.join('; ')}`);
  const conveyor = new Conveyor({ store: new EmbeddedStore({ dir }), pipeline: pipelineFromConfig(config.config) });
  await conveyor.start();
  try {
    const began = performance.now();
    await lanes(o.tasks, (i) => conveyor.createTask({ repo: o.repo, title: `Bench task ${i}`, trackerIssueId: `BENCH-${i}` }, { source: 'operator' }));
    await settled(conveyor, o.tasks);
    // Each task gets a pull request, so a CI status on its head is a transition the task takes (its CI is recorded).
    const ids = conveyor.tasks().map((t) => t.id);
    const shaOf = (i: number) => i.toString(16).padStart(40, '0');
    await lanes(ids.length, (i) => conveyor.send(ids[i]!, { type: 'pr.opened', number: i + 1, sha: shaOf(i) }, { source: 'webhook', deliveryKey: `seed:pr:${i}` }));
    const createMs = performance.now() - began;
    const historyBegan = performance.now();
    await lanes(ids.length * o.historyPerTask, (n) => {
      const i = n % ids.length;
      const event = { type: 'ci.status' as const, sha: shaOf(i), state: 'success' as const, context: 'ci/build', url: `https://ci.test/seed/${n}` };
      return conveyor.send(ids[i]!, event, { source: 'webhook', deliveryKey: `seed:ci:${n}` });
    });
    const targets = ids.map((id, i) => ({ branch: conveyor.record(id)!.meta.branch, sha: shaOf(i) }));
    return { targets, createMs, historyMs: performance.now() - historyBegan };
  } finally {
    await conveyor.stop();
  }
}

/**
 * Gives every task of a closed store `perTask` more history entries, committed as history records (a status its
 * task ignored) in large batches rather than one transition each: a million transitions take a quarter of an hour
 * here, and a restart reads the same history file and index either way. Closes the store with a checkpoint.
 */
export async function seedHistoryRecords(dir: string, perTask: number): Promise<number> {
  const store = new EmbeddedStore({ dir });
  await store.load();
  const began = performance.now();
  try {
    const ids = [...store.listTasks()].map((t) => t.id);
    const BATCH = 5000;
    const total = ids.length * perTask;
    for (let n = 0; n < total; n += BATCH) {
      const records = Array.from({ length: Math.min(BATCH, total - n) }, (_, k) => {
        const i = n + k;
        const entry = { at: Date.now(), source: 'webhook' as const, event: { type: 'ci.status', sha: (i % ids.length).toString(16).padStart(40, '0'), state: 'success', context: 'ci/build', url: `https://ci.test/seed/${i}` }, accepted: false, reason: 'seeded', from: 'analysis.gating', to: 'analysis.gating' };
        return { kind: 'history' as const, taskId: ids[i % ids.length]!, entry };
      });
      await store.commit(records);
    }
    return performance.now() - began;
  } finally {
    await store.close();
  }
}
