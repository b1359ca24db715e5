// Bytes the journal grows by per signed forge status webhook, for tasks resting at a gate: what each
// acknowledged delivery costs the disk (and the fsync) before its 2xx.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Conveyor } from '../actors/index.ts';
import { createApp } from '../server/app.ts';
import { defaultTrackerRouting } from '../server/default-tracker.ts';
import { signGithub } from '../server/webhooks/signatures.ts';
import { EmbeddedStore } from '../store/index.ts';

const TASKS = 200;
const STATUSES_PER_TASK = 10;
const CONCURRENCY = 20;
const REPO = 'bench/shop';
const SECRET = 'bench-forge-secret';

async function journalBytes(dir: string): Promise<number> {
  return (await stat(join(dir, 'journal.jsonl'))).size;
}

/** Posts every task's statuses (bodies like the ingest benchmark's), CONCURRENCY at a time; counts the 2xx. */
async function post(app: ReturnType<typeof createApp>, bodies: string[], tag: string): Promise<number> {
  let next = 0;
  let ok = 0;
  const lane = async () => {
    while (next < bodies.length) {
      const i = next++;
      const body = bodies[i]!;
      const response = await app.request('/webhooks/forge', {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', 'x-github-event': 'status', 'x-github-delivery': `${tag}-${i}`, 'x-hub-signature-256': signGithub(SECRET, body) },
      });
      if (response.ok) ok++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  return ok;
}

/** Journal bytes per webhook and per committed transition, with no checkpoint in between. */
export async function run(): Promise<Record<string, number>> {
  const dir = await mkdtemp(join(tmpdir(), 'conveyor-bench-bytes-'));
  const conveyor = new Conveyor({ store: new EmbeddedStore({ dir, checkpointEvery: 1e12, checkpointIntervalMs: 1e12 }) });
  try {
    await conveyor.start();
    for (let i = 0; i < TASKS; i++) await conveyor.createTask({ repo: REPO, title: `Bench task ${i}`, trackerIssueId: `BENCH-${i}` }, { source: 'operator' });
    while (conveyor.tasks().filter((t) => t.state === 'analysis.gating').length < TASKS || conveyor.runtime.liveCount() > 0) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // A head for each task, so its statuses are taken (a transition each), as the ingest benchmark's are.
    for (const [i, t] of conveyor.tasks().entries()) {
      await conveyor.send(t.id, { type: 'pr.opened', number: i + 1, sha: i.toString(16).padStart(40, '0') }, { source: 'webhook' });
    }
    const app = createApp({ conveyor, apiToken: 'bench-api-token', trackerSecret: 'bench-tracker-secret', forgeSecret: SECRET, tracker: defaultTrackerRouting });
    const bodies = conveyor.tasks().flatMap((t, i) => {
      const sha = i.toString(16).padStart(40, '0');
      const branch = conveyor.record(t.id)!.meta.branch;
      // The forge's delivery key is the body's hash: each status differs (its run number), so none is a duplicate.
      return Array.from({ length: STATUSES_PER_TASK }, (_, k) => JSON.stringify({
        sha, state: 'success', context: 'ci/build', target_url: `https://ci.test/${sha.slice(0, 7)}/${k}`, description: `build ${k} passed`,
        repository: { id: 1, full_name: REPO }, branches: [{ name: branch, commit: { sha } }],
      }));
    });
    const before = await journalBytes(dir);
    const accepted = conveyor.runtime.counters.accepted;
    const ok = await post(app, bodies, 'bytes');
    const grown = (await journalBytes(dir)) - before;
    const transitions = conveyor.runtime.counters.accepted - accepted;
    return {
      webhooks: bodies.length,
      webhooks_2xx: ok,
      transitions,
      journal_bytes: grown,
      journal_bytes_per_webhook: Math.round(grown / bodies.length),
      journal_bytes_per_transition: transitions > 0 ? Math.round(grown / transitions) : 0,
    };
  } finally {
    await conveyor.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The readable table, with the target. */
export function report(f: Record<string, number>): string {
  return [
    `journal-bytes: ${f.webhooks} signed forge status webhooks to ${TASKS} tasks at a gate, ${CONCURRENCY} at a time, in process`,
    `webhooks answered 2xx           ${f.webhooks_2xx}`,
    `transitions committed           ${f.transitions}`,
    `journal bytes per webhook       ${f.journal_bytes_per_webhook}`,
    `journal bytes per transition    ${f.journal_bytes_per_transition}`,
    `target journal_bytes_per_webhook <= 600: ${f.journal_bytes_per_webhook} ${f.journal_bytes_per_webhook! <= 600 ? 'met' : 'MISSED'}`,
  ].join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const figures = await run();
  console.log(report(figures));
  console.log(`BENCH journal-bytes ${JSON.stringify(figures)}`);
}
