import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { runGit } from '../../actors/index.ts';
import { signHex } from '../webhooks/signatures.ts';

/** What became of one webhook delivery, after the sender's retries. */
export type PostOutcome = { ok: true; status: number; body: unknown } | { ok: false; reason: string };

/**
 * POSTs a webhook as a real sender does: retried on a network error or a 5xx (conveyor asks for a
 * retry when it could not store the event), never on a 4xx.
 */
export async function postWebhook(url: string, body: string, headers: Record<string, string>, stopped: () => boolean): Promise<PostOutcome> {
  let last = '';
  for (let attempt = 1; attempt <= 5 && !stopped(); attempt++) {
    try {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
      const text = await res.text();
      const parsed = parseJson(text);
      if (res.ok) return { ok: true, status: res.status, body: parsed };
      last = `HTTP ${res.status}: ${text.slice(0, 300)}`;
      if (res.status < 500) break;
    } catch (e) {
      last = (e as Error).message;
    }
    await delay(250 * 2 ** attempt);
  }
  return { ok: false, reason: last || 'stopped before sending' };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export interface SimForgeOptions {
  baseUrl: string;
  secret: string;
  /** The bare repository the forge hosts. */
  remotePath: string;
  /** The repository's full name in payloads. */
  repo: string;
  log: (line: string) => void;
  /** When set, CI never reports: development then waits on a status that does not come. */
  dropCi?: boolean;
  /**
   * Branches whose remote someone else rewrites as soon as they appear (a conflicting force-push), so
   * the task's worktree diverges from its remote and the next stage boundary has to recover.
   */
  diverge?: (branch: string) => boolean;
  /** Branches already dealt with before this forge started (their task finished); not announced again. */
  settled?: (branch: string) => boolean;
  /** A short name for a branch in log lines (the tracker issue, say). */
  labelFor?: (branch: string) => string;
  pollMs?: number;
  ciDelayMs?: number;
}

const BRANCH_PREFIX = 'refs/heads/';

/**
 * A forge with CI, simulated: it watches the bare repository's `conveyor/*` branches and sends signed
 * Gitea webhooks: `pull_request` opened for a new branch, synchronized for a moved one, and a `status`
 * (ci/demo, success) for each new head a moment later.
 */
export class SimForge {
  private readonly prs = new Map<string, { number: number; sha: string }>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly ciTimers = new Set<NodeJS.Timeout>();
  private pollTimer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;
  private nextNumber = 1;
  private readonly diverged = new Set<string>();
  /** sha → branch of every CI run that finished. */
  private readonly results = new Map<string, string>();
  private stopped = false;
  private first = true;

  constructor(private readonly opts: SimForgeOptions) {}

  start(): void {
    if (this.pollTimer || this.stopped) return;
    this.schedule(0);
  }

  /** Stops watching, drops CI runs not yet reported, and waits for deliveries under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    for (const t of this.ciTimers) clearTimeout(t);
    this.ciTimers.clear();
    await this.polling;
    await Promise.allSettled([...this.inFlight]);
  }

  private schedule(ms: number): void {
    this.pollTimer = setTimeout(() => {
      this.polling = this.poll().finally(() => {
        if (!this.stopped) this.schedule(this.opts.pollMs ?? 300);
      });
    }, ms);
  }

  private async poll(): Promise<void> {
    const listed = await runGit(['for-each-ref', '--format=%(refname) %(objectname)', `${BRANCH_PREFIX}conveyor/`], { cwd: this.opts.remotePath, timeoutMs: 10_000 });
    if (!listed.ok || this.stopped) return;
    const first = this.first;
    this.first = false;
    for (const line of listed.stdout.split('\n')) {
      const [ref, sha] = line.trim().split(' ');
      if (!ref || !sha) continue;
      const branch = ref.slice(BRANCH_PREFIX.length);
      const known = this.prs.get(branch);
      if (known?.sha === sha) continue;
      if (!known && !this.diverged.has(branch) && this.opts.diverge?.(branch)) {
        this.diverged.add(branch);
        await this.forcePushConflict(branch);
        continue;
      }
      if (!known) {
        const pr = { number: this.nextNumber++, sha };
        this.prs.set(branch, pr);
        if (first && this.opts.settled?.(branch)) continue;
        this.track(this.pullRequest('opened', branch, pr.number, sha));
      } else {
        known.sha = sha;
        this.track(this.pullRequest('synchronized', branch, known.number, sha));
      }
      this.runCi(branch, sha);
    }
  }

  /** Someone else force-pushes the branch: main plus a different version of the file the agent wrote. */
  private async forcePushConflict(branch: string): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), 'conveyor-demo-rewrite-'));
    const taskId = branch.split('/').pop() ?? branch;
    try {
      const steps: string[][] = [
        ['clone', '--quiet', '--branch', 'main', this.opts.remotePath, dir],
        ['-C', dir, 'checkout', '--quiet', '-b', 'rewrite'],
      ];
      for (const args of steps) await runGit(args, { cwd: tmpdir(), timeoutMs: 20_000 });
      await mkdir(join(dir, 'work'), { recursive: true });
      await writeFile(join(dir, 'work', `${taskId}.md`), `# ${taskId}

Rewritten on the forge by someone else.
`);
      await runGit(['add', '-A'], { cwd: dir });
      await runGit(['commit', '--quiet', '-m', 'rewrite the branch on the forge'], { cwd: dir });
      const pushed = await runGit(['push', '--quiet', '--force', 'origin', `HEAD:refs/heads/${branch}`], { cwd: dir, timeoutMs: 20_000 });
      this.opts.log(pushed.ok
        ? `forge: someone force-pushed ${this.label(branch)} (${branch}): its worktree now diverges from the remote`
        : `forge: could not rewrite ${branch}: ${pushed.stderr.trim()}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Open pull requests, for the forge's read API. */
  pulls(): { number: number; branch: string; sha: string }[] {
    return [...this.prs].map(([branch, pr]) => ({ branch, number: pr.number, sha: pr.sha }));
  }

  /** The CI results the forge holds for a sha (also those whose webhook it dropped). */
  statuses(sha: string) {
    return this.results.has(sha) ? [this.statusPayload(this.results.get(sha)!, sha)] : [];
  }

  private runCi(branch: string, sha: string): void {
    const timer = setTimeout(() => {
      this.ciTimers.delete(timer);
      this.results.set(sha, branch);
      if (this.opts.dropCi) {
        this.opts.log(`forge: CI ci/demo success on ${sha.slice(0, 7)} (${this.label(branch)}); webhook dropped on purpose`);
        return;
      }
      this.track(this.status(branch, sha));
    }, this.opts.ciDelayMs ?? 800);
    this.ciTimers.add(timer);
  }

  private track(p: Promise<unknown>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p)).catch(() => undefined);
  }

  private label(branch: string): string {
    return this.opts.labelFor?.(branch) ?? branch;
  }

  private async pullRequest(action: 'opened' | 'synchronized', branch: string, number: number, sha: string): Promise<void> {
    const url = `https://forge.example/${this.opts.repo}/pulls/${number}`;
    const payload = {
      action,
      number,
      pull_request: { number, html_url: url, state: 'open', head: { ref: branch, sha }, base: { ref: 'main' } },
      repository: { full_name: this.opts.repo, name: this.opts.repo },
      sender: { login: 'developer-agent' },
    };
    const verb = action === 'opened' ? 'opened' : 'updated';
    await this.send('pull_request', payload, `forge: PR #${number} ${verb} for ${this.label(branch)} at ${sha.slice(0, 7)}`);
  }

  private statusPayload(branch: string, sha: string) {
    return {
      sha,
      state: 'success',
      context: 'ci/demo',
      description: '12 checks passed',
      target_url: `https://ci.example/${this.opts.repo}/builds/${sha.slice(0, 12)}`,
      repository: { full_name: this.opts.repo, name: this.opts.repo },
      branches: [{ name: branch }],
    };
  }

  private async status(branch: string, sha: string): Promise<void> {
    const payload = this.statusPayload(branch, sha);
    await this.send('status', payload, `forge: CI ci/demo success on ${sha.slice(0, 7)} (${this.label(branch)})`);
  }

  private async send(event: string, payload: unknown, line: string): Promise<void> {
    if (this.stopped) return;
    const body = JSON.stringify(payload);
    const headers = {
      'x-gitea-event': event,
      'x-gitea-delivery': randomUUID(),
      'x-gitea-signature': signHex(this.opts.secret, body),
    };
    this.opts.log(line);
    const outcome = await postWebhook(`${this.opts.baseUrl}/webhooks/forge`, body, headers, () => this.stopped);
    if (!outcome.ok && !this.stopped) this.opts.log(`forge: delivery of ${event} failed: ${outcome.reason}`);
  }
}
