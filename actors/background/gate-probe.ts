import type { CiState, GateName, TaskContext } from '../../machines/index.ts';
import type { ForgeConfig } from '../effects/index.ts';
import { RateLimit } from '../rate-limit.ts';
import type { TaskEventInput } from '../types.ts';

/** A task resting at its gate, as a probe needs to see it. */
export interface ProbeTask {
  taskId: string;
  repo: string;
  branch: string;
  stage: string;
  gate: GateName;
  head: TaskContext['head'];
}

/**
 * What the outside world says: the events a webhook would have brought (the reconciler decides whether
 * they are green), or nothing known, with why.
 */
export type ProbeResult = { kind: 'facts'; events: TaskEventInput[] } | { kind: 'unknown'; reason: string };

/** Asks the outside world, read-only, for the facts a gate reads (SPEC R20). */
export interface GateProbe {
  probe(task: ProbeTask): Promise<ProbeResult>;
}

export interface ForgeStatusProbeOptions {
  /** Forge settings per repository name. */
  forges: Record<string, ForgeConfig>;
  fetch?: typeof fetch;
  timeoutMs?: number;
  /** The forge's rate limit, shared with the merge's client (one token, one limit). */
  rateLimit?: RateLimit;
}

const CI_STATES: Record<string, CiState> = { success: 'success', pending: 'pending', failure: 'failure', error: 'error', warning: 'failure' };

const unknown = (reason: string): ProbeResult => ({ kind: 'unknown', reason });

/**
 * Probes the `ciGreen` gate on a Gitea- or GitHub-like forge: the combined status of the head sha and, for a
 * task with no head yet, the open pull request of its branch first. Other gates are not probed.
 */
export class ForgeStatusProbe implements GateProbe {
  readonly #o: ForgeStatusProbeOptions;
  readonly #fetch: typeof fetch;
  readonly rateLimit: RateLimit;

  constructor(opts: ForgeStatusProbeOptions) {
    this.#o = opts;
    this.#fetch = opts.fetch ?? globalThis.fetch;
    this.rateLimit = opts.rateLimit ?? new RateLimit({ client: 'forge' });
  }

  async probe(task: ProbeTask): Promise<ProbeResult> {
    if (task.gate !== 'ciGreen') return unknown(`gate ${task.gate} is not probed`);
    const forge = Object.hasOwn(this.#o.forges, task.repo) ? this.#o.forges[task.repo] : undefined;
    if (!forge) return unknown(`no forge is configured for ${task.repo}`);
    const events: TaskEventInput[] = [];
    let sha = task.head?.sha;
    if (!sha) {
      const pulls = await this.#get(forge, `/pulls?state=open&limit=50&per_page=100`);
      if (!pulls.ok) return unknown(pulls.error);
      const pr = (Array.isArray(pulls.value) ? pulls.value : []).map(pullOf).find((p) => p?.branch === task.branch);
      if (!pr) return unknown(`no open pull request for branch ${task.branch}`);
      events.push({ type: 'pr.opened', number: pr.number, sha: pr.sha, ...(pr.url ? { url: pr.url } : {}) });
      sha = pr.sha;
    }
    // The pull request found is a fact on its own: a head-less task learns its head even with no status yet.
    const found = (why: string): ProbeResult => (events.length > 0 ? { kind: 'facts', events } : unknown(why));
    const res = await this.#get(forge, `/commits/${encodeURIComponent(sha)}/status`);
    if (!res.ok) return found(res.error);
    const rows = (res.value as { statuses?: unknown } | null)?.statuses;
    if (!Array.isArray(rows) || rows.length === 0) return found(`no statuses for ${sha}`);
    for (const row of rows) {
      // Gitea names a status's state `status`, GitHub `state`.
      const s = row as { context?: unknown; state?: unknown; status?: unknown; target_url?: unknown; description?: unknown };
      const state = CI_STATES[String(s.state ?? s.status ?? '')];
      if (!state || typeof s.context !== 'string') continue;
      events.push({
        type: 'ci.status', sha, state, context: s.context,
        ...(typeof s.target_url === 'string' && s.target_url ? { url: s.target_url } : {}),
        ...(typeof s.description === 'string' && s.description ? { description: s.description } : {}),
      });
    }
    return found(`no readable statuses for ${sha}`);
  }

  async #get(forge: ForgeConfig, path: string): Promise<{ ok: true; value: unknown } | { ok: false; error: string }> {
    const url = `${forge.apiBase.replace(/\/+$/, '')}/repos/${encodeURIComponent(forge.owner)}/${encodeURIComponent(forge.repo)}${path}`;
    const headers: Record<string, string> = forge.kind === 'github'
      ? { authorization: `Bearer ${forge.token}`, accept: 'application/vnd.github+json' }
      : { authorization: `token ${forge.token}`, accept: 'application/json' };
    try {
      const response = await this.rateLimit.fetch('GET', url, () => this.#fetch(url, { headers, signal: AbortSignal.timeout(this.#o.timeoutMs ?? 15_000) }));
      const raw = await response.text();
      if (!response.ok) return { ok: false, error: `forge: GET ${url} answered ${response.status}` };
      return { ok: true, value: raw ? (JSON.parse(raw) as unknown) : null };
    } catch (e) {
      return { ok: false, error: `forge: GET ${url}: ${(e as Error).message}` };
    }
  }
}

function pullOf(row: unknown): { number: number; sha: string; branch: string; url?: string } | null {
  const p = row as { number?: unknown; html_url?: unknown; head?: { ref?: unknown; sha?: unknown } } | null;
  if (typeof p?.number !== 'number' || typeof p.head?.ref !== 'string' || typeof p.head.sha !== 'string') return null;
  return { number: p.number, sha: p.head.sha, branch: p.head.ref, ...(typeof p.html_url === 'string' ? { url: p.html_url } : {}) };
}
