import { RateLimit } from '../rate-limit.ts';

/** A workflow state as the tracker lists it. */
export interface TrackerState {
  id: string;
  name: string;
  group: string;
}

/** An issue as the reconciler needs it; repo and branch are conveyor's own extension fields. */
export interface TrackerIssue {
  id: string;
  title: string;
  projectId: string;
  stateId: string;
  updatedAt?: string;
  repo?: string;
  branch?: string;
}

export type TrackerResult<T> = { ok: true; value: T; stale?: boolean } | { ok: false; error: string };

export interface TrackerClientOptions {
  /** The REST root, `https://plane.example.com/api/v1`. */
  apiBase: string;
  workspace: string;
  token: string;
  now(): number;
  /** How long a project's state list is trusted before it is fetched again. */
  statesTtlMs: number;
  pageSize?: number;
  timeoutMs?: number;
  fetch?: typeof fetch;
  /** How 429s are waited out; by default within 60 s per call on `now`. */
  rateLimit?: RateLimit;
}

interface CachedStates {
  states: TrackerState[];
  fetchedAt: number;
}

type Page = { results?: unknown[]; next_cursor?: unknown; next_page_results?: unknown };

const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * A Plane-style tracker REST client (fetch, no SDK): the state list of a project (cached with a TTL; a failed
 * refresh keeps the last good list), the issues in a state (cursor pagination), and setting an issue's state.
 */
export class TrackerClient {
  readonly #o: TrackerClientOptions;
  readonly #fetch: typeof fetch;
  readonly #states = new Map<string, CachedStates>();
  readonly rateLimit: RateLimit;

  constructor(opts: TrackerClientOptions) {
    this.#o = opts;
    this.#fetch = opts.fetch ?? globalThis.fetch;
    this.rateLimit = opts.rateLimit ?? new RateLimit({ client: 'tracker', now: opts.now });
  }

  async states(projectId: string): Promise<TrackerResult<TrackerState[]>> {
    const cached = this.#states.get(projectId);
    if (cached && this.#o.now() - cached.fetchedAt < this.#o.statesTtlMs) return { ok: true, value: cached.states };
    const res = await this.#call('GET', `${this.#project(projectId)}/states/`);
    const rows = res.ok ? listOf(res.value) : null;
    if (!rows) {
      const error = res.ok ? `states of project ${projectId}: unexpected response` : res.error;
      // The last good list stands until a refresh succeeds (SPEC R21).
      return cached ? { ok: true, value: cached.states, stale: true } : { ok: false, error };
    }
    const states = rows.flatMap((r) => {
      const s = r as { id?: unknown; name?: unknown; group?: unknown };
      const id = text(s.id);
      return id ? [{ id, name: text(s.name) ?? id, group: text(s.group) ?? 'unknown' }] : [];
    });
    this.#states.set(projectId, { states, fetchedAt: this.#o.now() });
    return { ok: true, value: states };
  }

  /** Every issue of a project in a state, following the cursor to the last page. */
  async issuesInState(projectId: string, stateId: string): Promise<TrackerResult<TrackerIssue[]>> {
    const issues: TrackerIssue[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 1000; page++) {
      const query = new URLSearchParams({ state: stateId, per_page: String(this.#o.pageSize ?? 100), ...(cursor ? { cursor } : {}) });
      const res = await this.#call('GET', `${this.#project(projectId)}/issues/?${query}`);
      if (!res.ok) return res;
      const body = res.value as Page | null;
      if (!body || !Array.isArray(body.results)) return { ok: false, error: `issues of project ${projectId}: unexpected response` };
      for (const row of body.results) {
        const issue = issueOf(row, projectId);
        // The filter is asked of the server and checked here: a server that ignores it lists other states too.
        if (issue && issue.stateId === stateId) issues.push(issue);
      }
      cursor = text(body.next_cursor);
      if (body.next_page_results !== true || !cursor) return { ok: true, value: issues };
    }
    return { ok: false, error: `issues of project ${projectId}: more than 1000 pages` };
  }

  async setIssueState(projectId: string, issueId: string, stateId: string): Promise<TrackerResult<null>> {
    const res = await this.#call('PATCH', `${this.#issue(projectId, issueId)}/`, { state: stateId });
    return res.ok ? { ok: true, value: null } : res;
  }

  /** Adds a comment (HTML) to an issue; answers the comment's id. */
  async createComment(projectId: string, issueId: string, html: string): Promise<TrackerResult<string>> {
    const res = await this.#call('POST', `${this.#issue(projectId, issueId)}/comments/`, { comment_html: html });
    if (!res.ok) return res;
    const id = text((res.value as { id?: unknown } | null)?.id);
    return id ? { ok: true, value: id } : { ok: false, error: `comment on issue ${issueId}: the answer names no id` };
  }

  /** Replaces the text of a comment conveyor made. */
  async updateComment(projectId: string, issueId: string, commentId: string, html: string): Promise<TrackerResult<null>> {
    const res = await this.#call('PATCH', `${this.#issue(projectId, issueId)}/comments/${encodeURIComponent(commentId)}/`, { comment_html: html });
    return res.ok ? { ok: true, value: null } : res;
  }

  #issue(projectId: string, issueId: string): string {
    return `${this.#project(projectId)}/issues/${encodeURIComponent(issueId)}`;
  }

  #project(projectId: string): string {
    return `/workspaces/${encodeURIComponent(this.#o.workspace)}/projects/${encodeURIComponent(projectId)}`;
  }

  async #call(method: string, path: string, body?: unknown): Promise<TrackerResult<unknown>> {
    const url = `${this.#o.apiBase.replace(/\/+$/, '')}${path}`;
    const headers: Record<string, string> = { 'x-api-key': this.#o.token, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      const response = await this.rateLimit.fetch(method, url, () => this.#fetch(url, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(this.#o.timeoutMs ?? 15_000),
      }));
      const raw = await response.text();
      if (!response.ok) return { ok: false, error: `tracker: ${method} ${url} answered ${response.status}: ${raw.slice(0, 200) || 'no body'}` };
      return { ok: true, value: raw ? (JSON.parse(raw) as unknown) : null };
    } catch (e) {
      return { ok: false, error: `tracker: ${method} ${url}: ${(e as Error).message}` };
    }
  }
}

function listOf(value: unknown): unknown[] | null {
  if (Array.isArray(value)) return value;
  const results = (value as { results?: unknown } | null)?.results;
  return Array.isArray(results) ? results : null;
}

function issueOf(row: unknown, projectId: string): TrackerIssue | null {
  const r = row as { id?: unknown; name?: unknown; state?: unknown; project?: unknown; updated_at?: unknown; repo?: unknown; branch?: unknown } | null;
  const id = text(r?.id);
  const state = r?.state;
  const stateId = typeof state === 'string' ? state : text((state as { id?: unknown } | null)?.id);
  if (!r || !id || !stateId) return null;
  const issue: TrackerIssue = { id, title: text(r.name) ?? id, projectId: text(r.project) ?? projectId, stateId };
  const updatedAt = text(r.updated_at);
  const repo = text(r.repo);
  const branch = text(r.branch);
  if (updatedAt) issue.updatedAt = updatedAt;
  if (repo) issue.repo = repo;
  if (branch) issue.branch = branch;
  return issue;
}
