import { randomUUID } from 'node:crypto';
import type { Conveyor } from '../../actors/index.ts';
import { signHex } from '../webhooks/signatures.ts';
import { postWebhook } from './sim-forge.ts';

/** One issue of the simulated tracker. */
export interface DemoIssue {
  id: string;
  title: string;
}

/** The demo's issues; the reviewer agent asks for changes once on the one whose title says "needs changes". */
export const DEMO_ISSUES: readonly DemoIssue[] = [
  { id: 'demo-1', title: 'Add rate limiting to the public API' },
  { id: 'demo-2', title: 'Show order history on the account page' },
  { id: 'demo-3', title: 'Round discounts per line at checkout (needs changes)' },
  { id: 'demo-4', title: 'Export invoices as CSV' },
  { id: 'demo-5', title: 'Send a welcome email after sign-up' },
];

// Plane state ids, as server/default-tracker.ts maps them.
const STATES = {
  inProgress: { id: 'state-in-progress', name: 'In Progress', group: 'started' },
  approved: { id: 'state-approved', name: 'Approved', group: 'started' },
} as const;

export interface SimTrackerOptions {
  conveyor: Conveyor;
  baseUrl: string;
  secret: string;
  repo: string;
  log: (line: string) => void;
  issues?: readonly DemoIssue[];
  /** Time between opening one issue and the next. */
  openEveryMs?: number;
  /** Time a human takes to approve the first issue's analysis; later ones come staggered after it. */
  approveAfterMs?: number;
  approveStaggerMs?: number;
}

/**
 * A Plane-like tracker with a human at it, simulated: it moves its issues to In Progress (conveyor
 * makes a task for each) and, after a pause, approves each analysis. It approves only its own issues.
 */
export class SimTracker {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly tasks = new Map<string, string>();
  private stopped = false;
  private started = false;

  constructor(private readonly opts: SimTrackerOptions) {}

  private get issues(): readonly DemoIssue[] {
    return this.opts.issues ?? DEMO_ISSUES;
  }

  /** The tasks conveyor made (or had made earlier) for the tracker's issues, in issue order. */
  taskIds(): string[] {
    return this.issues.map((i) => this.tasks.get(i.id)).filter((t): t is string => t !== undefined);
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    const every = this.opts.openEveryMs ?? 500;
    const approveAfter = this.opts.approveAfterMs ?? 3000;
    const stagger = this.opts.approveStaggerMs ?? 500;
    this.issues.forEach((issue, i) => {
      this.later(i * every, () => this.open(issue));
      this.later(i * every + approveAfter + i * stagger, () => this.approve(issue));
    });
  }

  /** Cancels what the human has not done yet and waits for deliveries under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.inFlight]);
  }

  private later(ms: number, work: () => Promise<void>): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      const p = work();
      this.inFlight.add(p);
      void p.finally(() => this.inFlight.delete(p)).catch(() => undefined);
    }, ms);
    this.timers.add(timer);
  }

  private async open(issue: DemoIssue): Promise<void> {
    const existing = this.opts.conveyor.taskForIssue(issue.id);
    if (existing) {
      // A data directory from an earlier run: the issue is already being worked on.
      this.tasks.set(issue.id, existing);
      this.opts.log(`tracker: ${issue.id} "${issue.title}" already has task ${existing} (${this.opts.conveyor.task(existing)?.state ?? '?'})`);
      return;
    }
    this.opts.log(`tracker: ${issue.id} "${issue.title}" moved to In Progress`);
    const outcome = await this.send(issue, STATES.inProgress);
    const taskId = outcome ?? this.opts.conveyor.taskForIssue(issue.id);
    if (!taskId) return;
    this.tasks.set(issue.id, taskId);
    this.opts.log(`tracker: ${issue.id} → conveyor task ${taskId}, branch conveyor/${taskId}`);
  }

  private async approve(issue: DemoIssue): Promise<void> {
    const taskId = this.tasks.get(issue.id) ?? this.opts.conveyor.taskForIssue(issue.id);
    // Only an analysis still waiting is approved; a restored task that moved on needs nothing.
    if (!taskId || this.opts.conveyor.task(taskId)?.stage !== 'analysis') return;
    this.opts.log(`tracker: approving ${issue.id} (a human would do this)`);
    await this.send(issue, STATES.approved);
  }

  /** Sends a signed Plane issue-update webhook; resolves the task id conveyor answered with, if any. */
  private async send(issue: DemoIssue, state: (typeof STATES)[keyof typeof STATES]): Promise<string | undefined> {
    const payload = {
      event: 'issue',
      action: 'updated',
      webhook_id: 'demo-webhook',
      workspace_id: 'demo-workspace',
      data: {
        id: issue.id,
        name: issue.title,
        project: 'demo-project',
        state,
        updated_at: new Date().toISOString(),
        // conveyor's own extension: the repository the issue is worked on in.
        repo: this.opts.repo,
      },
      activity: { field: 'state', new_value: state.name, actor: { display_name: 'Dana (product owner)' } },
    };
    const body = JSON.stringify(payload);
    const headers = {
      'x-plane-event': 'issue',
      'x-plane-delivery': randomUUID(),
      'x-plane-signature': signHex(this.opts.secret, body),
    };
    const outcome = await postWebhook(`${this.opts.baseUrl}/webhooks/tracker`, body, headers, () => this.stopped);
    if (!outcome.ok) {
      if (!this.stopped) this.opts.log(`tracker: delivery for ${issue.id} (${state.name}) failed: ${outcome.reason}`);
      return undefined;
    }
    const answer = outcome.body as { outcome?: { taskId?: string } } | undefined;
    return answer?.outcome?.taskId || undefined;
  }
}
