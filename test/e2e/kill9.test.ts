import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { HistoryEntry } from '../../store/index.ts';
import type { TaskSummary, TaskView } from '../../actors/index.ts';
import { signHex } from '../../server/webhooks/signatures.ts';
import { seededRandom } from '../support/seeded-random.ts';
import { killAllConveyors, killConveyor, startConveyor as startProcess, type ConveyorProcess } from '../support/conveyor-process.ts';

// A real conveyor process on loopback, killed with SIGKILL mid-stream and restarted on the same data (SPEC R9, R31).

const API_TOKEN = 'kill9-api-token';
const TRACKER_SECRET = 'kill9-tracker-secret';
const ISSUES = 40;
const SENDERS = 8;
/** Two process starts per cycle; generous, since suites share the machine's cores. */
const CYCLE_TIMEOUT_MS = 60_000;
/** Every fourth issue is also put on Blocked and moved back to In Progress. */
const paired = (i: number) => i % 4 === 0;

type Kind = 'start' | 'approve' | 'block' | 'resume';
const STATE_OF: Record<Kind, string> = { start: 'state-in-progress', approve: 'state-approved', block: 'state-blocked', resume: 'state-in-progress' };
/** The accepted history entry each delivery leaves behind. */
const EVENT_OF: Record<Kind, string> = { start: 'task.created', approve: 'analysis.approved', block: 'task.hold', resume: 'task.resume' };

interface Delivery {
  issue: string;
  kind: Kind;
  body: string;
  signature: string;
  /** The HTTP status of the answer that reached the sender, if one did. */
  ackStatus?: number;
  ackTaskId?: string;
}

type Server = ConveyorProcess;

const issueId = (i: number) => `ISS-${String(i).padStart(3, '0')}`;
const titleOf = (issue: string) => `Issue ${issue}`;


/** Each sender's deliveries in the order a tracker would send them: per issue start, approve, then block and resume. */
function plan(): Delivery[][] {
  let seq = 0;
  const make = (i: number, kind: Kind): Delivery => {
    const issue = issueId(i);
    const body = JSON.stringify({
      event: 'issue', action: 'updated', webhook_id: 'wh-kill9', workspace_id: 'ws-1',
      data: {
        id: issue, name: titleOf(issue), project: 'proj-1', state: { id: STATE_OF[kind], group: 'started' },
        updated_at: new Date(Date.UTC(2025, 0, 1) + ++seq * 1000).toISOString(), repo: 'acme/shop',
      },
      activity: { field: 'state' },
    });
    return { issue, kind, body, signature: signHex(TRACKER_SECRET, body) };
  };
  const senders: Delivery[][] = [];
  for (let s = 0; s < SENDERS; s++) {
    const mine = Array.from({ length: ISSUES }, (_, i) => i).filter((i) => i % SENDERS === s);
    senders.push([
      ...mine.map((i) => make(i, 'start')),
      ...mine.map((i) => make(i, 'approve')),
      ...mine.filter(paired).map((i) => make(i, 'block')),
      ...mine.filter(paired).map((i) => make(i, 'resume')),
    ]);
  }
  return senders;
}

const dirs: string[] = [];

/**
 * A configuration whose stages run no agent, on purpose: every stage's job finishes at once and only webhooks
 * move a task. Its one repository is never named by an issue, so no git work happens either.
 */
const STAGES = ['analysis', 'development', 'review', 'testing', 'deploy-staging', 'deploy'];
const CONFIG = {
  repositories: [{ name: 'unused', remote: '/nonexistent/unused.git' }],
  pipeline: { stages: Object.fromEntries(STAGES.map((id) => [id, { agent: null }])) },
};

const startConveyor = (dataDir: string) =>
  startProcess(dataDir, CONFIG, { CONVEYOR_API_TOKEN: API_TOKEN, CONVEYOR_TRACKER_SECRET: TRACKER_SECRET, CONVEYOR_FORGE_SECRET: 'kill9-forge-secret' });

async function api<T>(server: Server, path: string): Promise<T> {
  const res = await fetch(`${server.base}/api${path}`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}

/** Sends one delivery; undefined when the connection failed (the process is gone), so nothing was acknowledged. */
async function post(server: Server, d: Delivery): Promise<{ status: number; taskId?: string } | undefined> {
  let res: Response;
  try {
    res = await fetch(`${server.base}/webhooks/tracker`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-plane-event': 'issue', 'x-plane-signature': d.signature },
      body: d.body,
    });
  } catch {
    return undefined;
  }
  let taskId: string | undefined;
  try {
    taskId = ((await res.json()) as { outcome?: { taskId?: string } }).outcome?.taskId;
  } catch {
    // The status line arrived, so the delivery was answered; a body cut off by the kill changes nothing.
  }
  return { status: res.status, taskId };
}

/**
 * Runs every sender until its list is done or the process is gone. `onAck` sees each acknowledgement
 * and may kill the process; a sender's first unanswered delivery is where its retry starts.
 */
async function drive(server: Server, senders: Delivery[][], onAck: () => void): Promise<void> {
  await Promise.all(senders.map(async (list) => {
    for (const d of list) {
      if (d.ackStatus !== undefined && d.ackStatus < 300) continue;
      const answer = await post(server, d);
      if (!answer) return;
      expect(answer.status, `${d.kind} of ${d.issue} answered ${answer.status}`).toBeLessThan(300);
      d.ackStatus = answer.status;
      d.ackTaskId = answer.taskId;
      onAck();
    }
  }));
}

/** Counts of accepted webhook events per issue, and each issue's task ids. */
async function observe(server: Server) {
  const { tasks } = await api<{ tasks: TaskSummary[] }>(server, '/tasks');
  const byIssue = new Map<string, string[]>();
  for (const t of tasks) {
    const issue = t.title.replace(/^Issue /, '');
    byIssue.set(issue, [...(byIssue.get(issue) ?? []), t.id]);
  }
  const accepted = new Map<string, Record<string, number>>();
  const views = new Map<string, TaskView>();
  for (const t of tasks) {
    const { history } = await api<{ history: HistoryEntry[] }>(server, `/tasks/${t.id}/history`);
    const counts: Record<string, number> = {};
    for (const h of history) if (h.accepted && h.source === 'webhook') counts[h.event.type] = (counts[h.event.type] ?? 0) + 1;
    accepted.set(t.id, counts);
    views.set(t.id, (await api<{ task: TaskView }>(server, `/tasks/${t.id}`)).task);
  }
  return { tasks, byIssue, accepted, views };
}

type Observed = Awaited<ReturnType<typeof observe>>;

/** What a user would compare between two runs: per issue, where its task rests and which webhooks moved it. */
function endState(o: Observed): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [issue, ids] of o.byIssue) {
    const view = o.views.get(ids[0]!)!;
    out[issue] = { tasks: ids.length, state: view.state, approval: view.context.approval, hold: view.context.hold, accepted: o.accepted.get(ids[0]!) };
  }
  return out;
}

/** Waits until every issue has its task resting at the development gate, as an uninterrupted run leaves them. */
async function settled(server: Server): Promise<Observed> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const { tasks } = await api<{ tasks: TaskSummary[] }>(server, '/tasks');
    if (tasks.length === ISSUES && tasks.every((t) => t.state === 'development.gating')) return observe(server);
    if (Date.now() > deadline) {
      const states = tasks.map((t) => `${t.title}: ${t.state}`).join(', ');
      throw new Error(`kill9: ${tasks.length} tasks did not all reach development.gating: ${states}`);
    }
    await delay(20);
  }
}

async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'conveyor-kill9-'));
  dirs.push(dir);
  return dir;
}

describe('kill -9 during a stream of tracker webhooks', () => {
  let reference: Record<string, unknown>;

  beforeAll(async () => {
    const server = await startConveyor(await freshDir());
    await drive(server, plan(), () => undefined);
    reference = endState(await settled(server));
    await killConveyor(server);
  }, CYCLE_TIMEOUT_MS);

  afterEach(killAllConveyors);

  afterAll(async () => {
    await killAllConveyors();
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true, maxRetries: 3 })));
  });

  it('leaves every issue at the development gate with one task in an uninterrupted run', () => {
    expect(Object.keys(reference)).toHaveLength(ISSUES);
    for (let i = 0; i < ISSUES; i++) {
      const accepted = paired(i)
        ? { 'task.created': 1, 'analysis.approved': 1, 'task.hold': 1, 'task.resume': 1 }
        : { 'task.created': 1, 'analysis.approved': 1 };
      expect(reference[issueId(i)]).toEqual({ tasks: 1, state: 'development.gating', approval: 'approved', hold: null, accepted });
    }
  });

  const total = ISSUES * 2 + 2 * Array.from({ length: ISSUES }, (_, i) => i).filter(paired).length;
  // Early (while tasks are being created), middle (approvals) and late (holds and resumes).
  const moments = [
    { seed: 11, from: 3, to: Math.floor(total / 3) },
    { seed: 23, from: Math.floor(total / 3), to: Math.floor((2 * total) / 3) },
    { seed: 37, from: Math.floor((2 * total) / 3), to: total - 8 },
  ];

  for (const { seed, from, to } of moments) {
    it(`loses and repeats no acknowledged webhook when killed after ${from}..${to} acknowledgements (seed ${seed})`, async () => {
      const random = seededRandom(seed);
      const killAt = from + Math.floor(random() * (to - from));
      const killDelayMs = random() * 3;
      const dir = await freshDir();
      const senders = plan();
      const all = senders.flat();

      const first = await startConveyor(dir);
      let acks = 0;
      let killing: Promise<void> | null = null;
      await drive(first, senders, () => {
        if (++acks !== killAt) return;
        // A few milliseconds later, so the kill lands while other senders' commits are in flight.
        killing = delay(killDelayMs).then(() => killConveyor(first));
      });
      await (killing ?? Promise.reject(new Error(`kill9: only ${acks} of ${killAt} deliveries were acknowledged`)));
      const acked = all.filter((d) => d.ackStatus !== undefined);
      expect(acked.length).toBeGreaterThanOrEqual(killAt);
      expect(acked.length).toBeLessThan(all.length);

      const second = await startConveyor(dir);
      const restored = await observe(second);
      for (const [issue, ids] of restored.byIssue) expect(ids, `tasks of ${issue}`).toHaveLength(1);
      for (const d of all) {
        const taskId = restored.byIssue.get(d.issue)?.[0];
        if (d.ackStatus === undefined) {
          // Unanswered: it may or may not have been stored, but never twice.
          if (taskId) expect(restored.accepted.get(taskId)![EVENT_OF[d.kind]] ?? 0).toBeLessThanOrEqual(1);
          continue;
        }
        expect(taskId, `${d.kind} of ${d.issue} was acknowledged`).toBeDefined();
        if (d.kind === 'start') expect(taskId).toBe(d.ackTaskId);
        expect(restored.accepted.get(taskId!)![EVENT_OF[d.kind]], `${d.kind} of ${d.issue}`).toBe(1);
      }

      // The senders retry what was never answered, with the same bytes; redeliveries of stored ones are duplicates.
      await drive(second, senders, () => undefined);
      expect(all.every((d) => d.ackStatus !== undefined && d.ackStatus < 300)).toBe(true);
      expect(endState(await settled(second))).toEqual(reference);
      // A sender that lost track sends everything again: every one is answered 2xx and changes nothing.
      await Promise.all(senders.map(async (list) => {
        for (const d of list) expect((await post(second, d))?.status, `redelivery of ${d.kind} of ${d.issue}`).toBeLessThan(300);
      }));
      expect(endState(await settled(second))).toEqual(reference);
      await killConveyor(second);
    }, CYCLE_TIMEOUT_MS);
  }
});
