import { RateLimit } from '../rate-limit.ts';
import { NonRetriableError, RetriableError } from './errors.ts';

/** How conveyor reaches one repository on its forge; the token is resolved, never read from config here. */
export interface ForgeConfig {
  kind: 'gitea' | 'github';
  /** The REST root: `https://gitea.example.com/api/v1` or `https://api.github.com`. */
  apiBase: string;
  owner: string;
  repo: string;
  token: string;
}

/** A pull request as the merge needs it. */
export interface PullRequestState {
  merged: boolean;
  /** The merge commit on the target branch, once merged. */
  mergeSha: string | null;
  headSha: string;
  state: 'open' | 'closed';
}

export interface CombinedStatus {
  state: string;
  statuses: { context: string; state: string; targetUrl?: string }[];
}

/** Why a forge call failed, classified once: a conflict or refusal is final, an outage is worth a retry. */
export interface ForgeFailure {
  kind: 'not_mergeable' | 'not_found' | 'unauthorized' | 'rejected' | 'unavailable' | 'network' | 'bad_response' | 'not_configured';
  status?: number;
  message: string;
  retriable: boolean;
}

export type ForgeResult<T> = { ok: true; value: T } | { ok: false; failure: ForgeFailure };

export interface ForgeClientOptions {
  /** Forge settings per repository name (conveyor's name for it). */
  repos: Record<string, ForgeConfig>;
  fetch?: typeof fetch;
  timeoutMs?: number;
  /** How 429s are waited out; by default within 60 s per call. */
  rateLimit?: RateLimit;
}

/** The error an effect throws for a forge failure, so the journal classifies it. */
export function forgeError(f: ForgeFailure): Error {
  const message = `forge: ${f.message}`;
  return f.retriable ? new RetriableError(message) : new NonRetriableError(message);
}

/** A Gitea- or GitHub-compatible REST client for the calls the merge makes (fetch, no SDK). */
export class ForgeClient {
  readonly #repos: Map<string, ForgeConfig>;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly rateLimit: RateLimit;

  constructor(opts: ForgeClientOptions) {
    this.#repos = new Map(Object.entries(opts.repos));
    this.#fetch = opts.fetch ?? globalThis.fetch;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.rateLimit = opts.rateLimit ?? new RateLimit({ client: 'forge' });
  }

  /** Whether a forge is configured for the repository. */
  has(repo: string): boolean {
    return this.#repos.has(repo);
  }

  async getPullRequest(repo: string, number: number): Promise<ForgeResult<PullRequestState>> {
    const res = await this.#call(repo, 'GET', (c) => prPath(c, number));
    if (!res.ok) return res;
    const body = res.value as { merged?: unknown; merge_commit_sha?: unknown; head?: { sha?: unknown }; state?: unknown } | null;
    if (typeof body?.head?.sha !== 'string' || typeof body.merged !== 'boolean') {
      return { ok: false, failure: { kind: 'bad_response', message: `pull request #${number} of ${repo}: unexpected response`, retriable: true } };
    }
    const mergeSha = body.merged && typeof body.merge_commit_sha === 'string' ? body.merge_commit_sha : null;
    return { ok: true, value: { merged: body.merged, mergeSha, headSha: body.head.sha, state: body.state === 'closed' ? 'closed' : 'open' } };
  }

  /** Merges with a merge commit; `sha` makes the forge refuse if the head moved meanwhile. */
  async mergePullRequest(repo: string, number: number, opts: { sha?: string } = {}): Promise<ForgeResult<{ mergeSha: string | null }>> {
    const config = this.#repos.get(repo);
    const gitea = config?.kind === 'gitea';
    const body = gitea ? { Do: 'merge', ...(opts.sha ? { head_commit_id: opts.sha } : {}) } : { merge_method: 'merge', ...(opts.sha ? { sha: opts.sha } : {}) };
    const res = await this.#call(repo, gitea ? 'POST' : 'PUT', (c) => `${prPath(c, number)}/merge`, body);
    if (!res.ok) return res;
    const sha = (res.value as { sha?: unknown } | null)?.sha;
    return { ok: true, value: { mergeSha: typeof sha === 'string' ? sha : null } };
  }

  async getCombinedStatus(repo: string, sha: string): Promise<ForgeResult<CombinedStatus>> {
    const res = await this.#call(repo, 'GET', (c) => `${repoPath(c)}/commits/${encodeURIComponent(sha)}/status`);
    if (!res.ok) return res;
    const body = res.value as { state?: unknown; statuses?: { context?: unknown; state?: unknown; target_url?: unknown }[] } | null;
    if (typeof body?.state !== 'string') return { ok: false, failure: { kind: 'bad_response', message: `status of ${sha}: unexpected response`, retriable: true } };
    const statuses = (Array.isArray(body.statuses) ? body.statuses : []).map((s) => ({
      context: String(s.context ?? ''),
      state: String(s.state ?? ''),
      ...(typeof s.target_url === 'string' && s.target_url ? { targetUrl: s.target_url } : {}),
    }));
    return { ok: true, value: { state: body.state, statuses } };
  }

  /** Adds a comment (Markdown) to a pull request's conversation; answers the comment's id. */
  async createComment(repo: string, number: number, body: string): Promise<ForgeResult<number>> {
    const res = await this.#call(repo, 'POST', (c) => `${repoPath(c)}/issues/${number}/comments`, { body });
    if (!res.ok) return res;
    const id = (res.value as { id?: unknown } | null)?.id;
    return typeof id === 'number' ? { ok: true, value: id } : { ok: false, failure: { kind: 'bad_response', message: `comment on #${number} of ${repo}: the answer names no id`, retriable: true } };
  }

  /** Replaces the text of a comment conveyor made. */
  async updateComment(repo: string, commentId: number, body: string): Promise<ForgeResult<null>> {
    const res = await this.#call(repo, 'PATCH', (c) => `${repoPath(c)}/issues/comments/${commentId}`, { body });
    return res.ok ? { ok: true, value: null } : res;
  }

  async #call(repo: string, method: string, path: (c: ForgeConfig) => string, body?: unknown): Promise<ForgeResult<unknown>> {
    const config = this.#repos.get(repo);
    if (!config) return { ok: false, failure: { kind: 'not_configured', message: `no forge is configured for repository ${repo}`, retriable: false } };
    const url = `${config.apiBase.replace(/\/+$/, '')}${path(config)}`;
    const headers: Record<string, string> = config.kind === 'github'
      ? { authorization: `Bearer ${config.token}`, accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' }
      : { authorization: `token ${config.token}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    let text: string;
    try {
      response = await this.rateLimit.fetch(method, url, () => this.#fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(this.#timeoutMs) }));
      text = await response.text();
    } catch (e) {
      return { ok: false, failure: { kind: 'network', message: `${method} ${url}: ${(e as Error).message}`, retriable: true } };
    }
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      if (response.ok) return { ok: false, failure: { kind: 'bad_response', status: response.status, message: `${method} ${url}: answer is not JSON`, retriable: true } };
    }
    if (response.ok) return { ok: true, value: json };
    return { ok: false, failure: classify(response.status, `${method} ${url} answered ${response.status}: ${messageOf(json, text)}`) };
  }
}

function classify(status: number, message: string): ForgeFailure {
  // Gitea and GitHub answer 405 (not mergeable: conflict, already merged, checks) or 409 (head moved).
  if (status === 405 || status === 409) return { kind: 'not_mergeable', status, message, retriable: false };
  if (status === 429 || status >= 500) return { kind: 'unavailable', status, message, retriable: true };
  if (status === 401 || status === 403) return { kind: 'unauthorized', status, message, retriable: false };
  if (status === 404) return { kind: 'not_found', status, message, retriable: false };
  return { kind: 'rejected', status, message, retriable: false };
}

function messageOf(json: unknown, text: string): string {
  const message = (json as { message?: unknown } | null)?.message;
  return typeof message === 'string' && message ? message : text.slice(0, 200) || 'no message';
}

function repoPath(c: ForgeConfig): string {
  return `/repos/${encodeURIComponent(c.owner)}/${encodeURIComponent(c.repo)}`;
}

function prPath(c: ForgeConfig, number: number): string {
  return `${repoPath(c)}/pulls/${number}`;
}
