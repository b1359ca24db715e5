import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InjectedAnswers, readBody, sendJson } from './http-json.ts';

/** A workflow state of the double: Plane's id, name and group. */
export interface DoubleState {
  id: string;
  name: string;
  group: string;
}

/** An issue of the double; repo and branch are conveyor's extension fields. */
export interface DoubleIssue {
  id: string;
  name: string;
  project: string;
  state: string;
  updated_at: string;
  repo?: string;
  branch?: string;
}

export interface TrackerDoubleOptions {
  workspace?: string;
  token?: string;
  pageSize?: number;
}

/**
 * A Plane-like tracker on 127.0.0.1: a project's states with their groups, its issues listed by state with
 * cursor pagination, and PATCH of an issue's state. Failures can be injected per route.
 */
export class TrackerDouble {
  readonly states = new Map<string, DoubleState[]>();
  readonly issues = new Map<string, DoubleIssue>();
  readonly requests: { method: string; path: string; query: string; body?: unknown }[] = [];
  /** Comments per issue id, in the order they were made; edits replace the HTML in place. */
  readonly comments = new Map<string, { id: string; comment_html: string; edits: number }[]>();
  #commentSeq = 0;
  /** Answers to give the next requests instead of serving them (a rate limit). */
  readonly injected = new InjectedAnswers();
  /** Answer 503 to state-list requests while set. */
  failStates = false;
  #updates = 0;

  private constructor(
    private readonly server: Server,
    readonly apiBase: string,
    readonly workspace: string,
    readonly token: string,
    private readonly pageSize: number,
  ) {}

  static async start(opts: TrackerDoubleOptions = {}): Promise<TrackerDouble> {
    let double: TrackerDouble | null = null;
    const server = createServer((req, res) => {
      void double!.#handle(req, res).catch((e: unknown) => sendJson(res, 500, { detail: String(e) }));
    });
    server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    double = new TrackerDouble(server, `http://127.0.0.1:${port}/api/v1`, opts.workspace ?? 'acme', opts.token ?? 'plane-token', opts.pageSize ?? 2);
    return double;
  }

  setStates(project: string, states: DoubleState[]): void {
    this.states.set(project, states);
  }

  /** Puts an issue in a state (as a human in the tracker would; no webhook is sent). */
  setIssue(issue: Omit<DoubleIssue, 'updated_at'> & { updated_at?: string }): DoubleIssue {
    const full = { ...issue, updated_at: issue.updated_at ?? new Date(Date.UTC(2025, 0, 1) + ++this.#updates * 1000).toISOString() };
    this.issues.set(issue.id, full);
    return full;
  }

  requestsTo(method: string, fragment: string) {
    return this.requests.filter((r) => r.method === method && r.path.includes(fragment));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://double');
    const raw = await readBody(req);
    const body = raw ? (JSON.parse(raw) as unknown) : undefined;
    this.requests.push({ method: req.method ?? '', path: url.pathname, query: url.search, body });
    if (req.headers['x-api-key'] !== this.token) return sendJson(res, 401, { detail: 'Invalid API key' });
    if (this.injected.answer(res)) return;
    const c = /^\/api\/v1\/workspaces\/([^/]+)\/projects\/([^/]+)\/issues\/([^/]+)\/comments\/(?:([^/]+)\/)?$/.exec(url.pathname);
    if (c) return this.#comment(req.method ?? '', c[1]!, c[2]!, decodeURIComponent(c[3]!), c[4] && decodeURIComponent(c[4]), body, res);
    const m = /^\/api\/v1\/workspaces\/([^/]+)\/projects\/([^/]+)\/(states|issues)\/(?:([^/]+)\/)?$/.exec(url.pathname);
    if (!m || m[1] !== this.workspace) return sendJson(res, 404, { detail: 'Not found' });
    const project = m[2]!;
    if (m[3] === 'states') {
      if (req.method !== 'GET' || m[4]) return sendJson(res, 405, { detail: 'Method not allowed' });
      if (this.failStates) return sendJson(res, 503, { detail: 'Service unavailable' });
      const results = this.states.get(project) ?? [];
      return sendJson(res, 200, { results, total_count: results.length, next_page_results: false, next_cursor: null });
    }
    if (m[4]) {
      if (req.method !== 'PATCH') return sendJson(res, 405, { detail: 'Method not allowed' });
      const issue = this.issues.get(decodeURIComponent(m[4]));
      if (!issue || issue.project !== project) return sendJson(res, 404, { detail: 'Issue not found' });
      const state = (body as { state?: unknown } | undefined)?.state;
      if (typeof state !== 'string') return sendJson(res, 400, { detail: 'state is required' });
      const updated = this.setIssue({ ...issue, state, updated_at: undefined });
      return sendJson(res, 200, updated);
    }
    if (req.method !== 'GET') return sendJson(res, 405, { detail: 'Method not allowed' });
    const state = url.searchParams.get('state');
    const perPage = Number(url.searchParams.get('per_page') ?? this.pageSize);
    const size = Math.min(this.pageSize, Number.isFinite(perPage) && perPage > 0 ? perPage : this.pageSize);
    // Plane's cursor is "<page size>:<page>:<is previous>".
    const page = Number((url.searchParams.get('cursor') ?? `${size}:0:0`).split(':')[1] ?? 0);
    const all = [...this.issues.values()].filter((i) => i.project === project && (!state || i.state === state));
    const results = all.slice(page * size, (page + 1) * size);
    const more = (page + 1) * size < all.length;
    return sendJson(res, 200, { results, total_count: all.length, next_page_results: more, next_cursor: `${size}:${page + 1}:0`, prev_cursor: `${size}:${page - 1}:1` });
  }

  #comment(method: string, workspace: string, project: string, issueId: string, commentId: string | undefined, body: unknown, res: ServerResponse): void {
    const issue = this.issues.get(issueId);
    if (workspace !== this.workspace || !issue || issue.project !== project) return sendJson(res, 404, { detail: 'Issue not found' });
    const html = (body as { comment_html?: unknown } | undefined)?.comment_html;
    if (typeof html !== 'string' || html === '') return sendJson(res, 400, { detail: 'comment_html is required' });
    const list = this.comments.get(issueId) ?? [];
    this.comments.set(issueId, list);
    if (!commentId) {
      if (method !== 'POST') return sendJson(res, 405, { detail: 'Method not allowed' });
      const comment = { id: `comment-${++this.#commentSeq}`, comment_html: html, edits: 0 };
      list.push(comment);
      return sendJson(res, 201, { id: comment.id, comment_html: html, issue: issueId });
    }
    if (method !== 'PATCH') return sendJson(res, 405, { detail: 'Method not allowed' });
    const comment = list.find((x) => x.id === commentId);
    if (!comment) return sendJson(res, 404, { detail: 'Comment not found' });
    comment.comment_html = html;
    comment.edits++;
    return sendJson(res, 200, { id: comment.id, comment_html: html, issue: issueId });
  }
}
