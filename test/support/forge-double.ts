import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { ForgeConfig } from '../../actors/index.ts';
import { git, makeTempDir } from '../git/fixtures.ts';
import { InjectedAnswers, readBody, sendJson } from './http-json.ts';

/** One pull request the double holds. */
export interface DoublePullRequest {
  number: number;
  head: string;
  base: string;
  state: 'open' | 'closed';
  merged: boolean;
  mergeSha: string | null;
  /** The head sha when it was merged (git mode), or the fixed head (counting mode). */
  headSha: string | null;
  /** Merges applied (a correct client makes this at most 1) and merge calls received. */
  merges: number;
  mergeCalls: number;
}

export interface ForgeDoubleOptions {
  /** A bare repository on disk: merging really merges head into base and pushes there. Without it the double only counts. */
  bareRepo?: string;
  token?: string;
  owner?: string;
  repo?: string;
  /** Runs when a merge call arrives, before anything is done; may delay it. */
  onMergeCall?(pr: DoublePullRequest): Promise<void> | void;
  /** Runs after a merge is applied and before the answer is sent; may hold the answer back. */
  afterMerge?(pr: DoublePullRequest): Promise<void> | void;
}

/** A failure to answer the next merge calls with; `after` applies the merge first (the answer is lost, not the merge). */
export interface InjectedFailure {
  status: number;
  message: string;
  after?: boolean;
}

/**
 * A Gitea-like forge on 127.0.0.1: the REST subset conveyor's merge uses (read a pull request, merge
 * it, combined commit status), backed by a real bare repository or, in counting mode, by memory.
 */
export class ForgeDouble {
  readonly prs = new Map<number, DoublePullRequest>();
  readonly requests: { method: string; path: string }[] = [];
  /** Comments per pull request number; edits replace the body in place. */
  readonly comments = new Map<number, { id: number; body: string; edits: number }[]>();
  #commentSeq = 100;
  /** What to do around merges; may be changed while the double runs. */
  readonly hooks: Pick<ForgeDoubleOptions, 'onMergeCall' | 'afterMerge'>;
  /** Answers to give the next requests instead of serving them (a rate limit). */
  readonly injected = new InjectedAnswers();
  readonly #statuses = new Map<string, { context: string; state: string; target_url?: string }[]>();
  readonly #failures: InjectedFailure[] = [];
  #nextNumber = 1;
  #lock: Promise<unknown> = Promise.resolve();
  #work: { path: string; cleanup: () => Promise<void> } | null = null;

  private constructor(
    private readonly server: Server,
    readonly apiBase: string,
    private readonly opts: ForgeDoubleOptions,
  ) {
    this.hooks = { onMergeCall: opts.onMergeCall, afterMerge: opts.afterMerge };
  }

  /** Listens on a free loopback port. */
  static async start(opts: ForgeDoubleOptions = {}): Promise<ForgeDouble> {
    let double: ForgeDouble | null = null;
    const server = createServer((req, res) => {
      void double!.#handle(req, res).catch((e: unknown) => sendJson(res, 500, { message: String(e) }));
    });
    server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    double = new ForgeDouble(server, `http://127.0.0.1:${port}/api/v1`, opts);
    return double;
  }

  /** The client configuration that reaches this double for conveyor's repository `name`. */
  config(): ForgeConfig {
    return { kind: 'gitea', apiBase: this.apiBase, owner: this.opts.owner ?? 'acme', repo: this.opts.repo ?? 'shop', token: this.opts.token ?? 'forge-token' };
  }

  /** Opens a pull request of `head` into `base`; counting mode takes the head sha as given. */
  addPullRequest(p: { head: string; base?: string; headSha?: string; number?: number }): DoublePullRequest {
    const number = p.number ?? this.#nextNumber++;
    const pr: DoublePullRequest = { number, head: p.head, base: p.base ?? 'main', state: 'open', merged: false, mergeSha: null, headSha: p.headSha ?? null, merges: 0, mergeCalls: 0 };
    this.prs.set(number, pr);
    return pr;
  }

  setStatus(sha: string, context: string, state: string): void {
    this.#statuses.set(sha, [...(this.#statuses.get(sha) ?? []).filter((s) => s.context !== context), { context, state }]);
  }

  /** The next `count` merge calls answer with this failure. */
  failMerges(count: number, failure: InjectedFailure): void {
    for (let i = 0; i < count; i++) this.#failures.push(failure);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.#work?.cleanup();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://double');
    const body = await readBody(req);
    this.requests.push({ method: req.method ?? '', path: url.pathname });
    const token = this.opts.token ?? 'forge-token';
    const auth = req.headers.authorization ?? '';
    if (auth !== `token ${token}` && auth !== `Bearer ${token}`) return sendJson(res, 401, { message: 'token is required' });
    if (this.injected.answer(res)) return;
    const owner = this.opts.owner ?? 'acme';
    const repo = this.opts.repo ?? 'shop';
    const c = /^\/api\/v1\/repos\/([^/]+)\/([^/]+)\/issues\/(?:(\d+)\/comments|comments\/(\d+))$/.exec(url.pathname);
    if (c && c[1] === owner && c[2] === repo) return this.#comment(req.method ?? '', c[3] ? Number(c[3]) : null, c[4] ? Number(c[4]) : null, body, res);
    const m = /^\/api\/v1\/repos\/([^/]+)\/([^/]+)\/(pulls\/(\d+)(\/merge)?|commits\/([0-9a-zA-Z]+)\/status)$/.exec(url.pathname);
    if (!m || m[1] !== owner || m[2] !== repo) return sendJson(res, 404, { message: 'not found' });
    if (m[6]) {
      if (req.method !== 'GET') return sendJson(res, 405, { message: 'method not allowed' });
      const statuses = this.#statuses.get(m[6]) ?? [];
      return sendJson(res, 200, { state: combined(statuses.map((s) => s.state)), sha: m[6], statuses });
    }
    const pr = this.prs.get(Number(m[4]));
    if (!pr) return sendJson(res, 404, { message: `pull request ${m[4]} does not exist` });
    if (!m[5]) {
      if (req.method !== 'GET') return sendJson(res, 405, { message: 'method not allowed' });
      return sendJson(res, 200, await this.#view(pr));
    }
    if (req.method !== 'POST') return sendJson(res, 405, { message: 'method not allowed' });
    let input: { Do?: unknown; head_commit_id?: unknown };
    try {
      input = JSON.parse(body || '{}') as typeof input;
    } catch {
      return sendJson(res, 400, { message: 'body is not JSON' });
    }
    if (input.Do !== 'merge') return sendJson(res, 422, { message: 'Do must be "merge"' });
    pr.mergeCalls++;
    await this.hooks.onMergeCall?.(pr);
    const failure = this.#failures.shift();
    if (failure && !failure.after) return sendJson(res, failure.status, { message: failure.message });
    const answer = await this.#exclusive(() => this.#merge(pr, typeof input.head_commit_id === 'string' ? input.head_commit_id : null));
    if (answer.status === 200) await this.hooks.afterMerge?.(pr);
    if (failure) return sendJson(res, failure.status, { message: failure.message });
    return sendJson(res, answer.status, answer.body);
  }

  #comment(method: string, number: number | null, commentId: number | null, raw: string, res: ServerResponse): void {
    let text: unknown;
    try {
      text = (JSON.parse(raw || '{}') as { body?: unknown }).body;
    } catch {
      return sendJson(res, 400, { message: 'body is not JSON' });
    }
    if (typeof text !== 'string' || text === '') return sendJson(res, 422, { message: 'body is required' });
    if (number !== null) {
      if (method !== 'POST') return sendJson(res, 405, { message: 'method not allowed' });
      if (!this.prs.has(number)) return sendJson(res, 404, { message: `issue ${number} does not exist` });
      const comment = { id: ++this.#commentSeq, body: text, edits: 0 };
      this.comments.set(number, [...(this.comments.get(number) ?? []), comment]);
      return sendJson(res, 201, { id: comment.id, body: text });
    }
    if (method !== 'PATCH') return sendJson(res, 405, { message: 'method not allowed' });
    const comment = [...this.comments.values()].flat().find((x) => x.id === commentId);
    if (!comment) return sendJson(res, 404, { message: 'comment does not exist' });
    comment.body = text;
    comment.edits++;
    return sendJson(res, 200, { id: comment.id, body: text });
  }

  async #view(pr: DoublePullRequest) {
    const headSha = pr.merged || !this.opts.bareRepo ? pr.headSha : await this.#headOf(pr);
    return {
      number: pr.number, state: pr.state, merged: pr.merged, merge_commit_sha: pr.mergeSha, mergeable: !pr.merged,
      head: { ref: pr.head, sha: headSha ?? '' }, base: { ref: pr.base },
    };
  }

  async #merge(pr: DoublePullRequest, expected: string | null): Promise<{ status: number; body: unknown }> {
    if (pr.merged) return { status: 405, body: { message: 'The pull request is already merged' } };
    if (pr.state === 'closed') return { status: 405, body: { message: 'The pull request is closed' } };
    if (!this.opts.bareRepo) {
      if (expected && pr.headSha && expected !== pr.headSha) return { status: 409, body: { message: 'head out of date' } };
      pr.merged = true;
      pr.state = 'closed';
      pr.merges++;
      pr.mergeSha = `merge${String(pr.number).padStart(35, '0')}`;
      return { status: 200, body: null };
    }
    const head = await this.#headOf(pr);
    if (expected && expected !== head) return { status: 409, body: { message: `head out of date: ${pr.head} is at ${head}, not ${expected}` } };
    const work = await this.#workClone();
    await git(work, 'fetch', '--quiet', 'origin');
    await git(work, 'checkout', '--quiet', '-B', pr.base, `origin/${pr.base}`);
    try {
      await git(work, 'merge', '--no-ff', '--no-edit', '-m', `Merge pull request #${pr.number} from ${pr.head}`, `origin/${pr.head}`);
    } catch {
      await git(work, 'merge', '--abort').catch(() => undefined);
      return { status: 405, body: { message: 'Merge conflicts detected' } };
    }
    await git(work, 'push', '--quiet', 'origin', `HEAD:refs/heads/${pr.base}`);
    pr.mergeSha = await git(work, 'rev-parse', 'HEAD');
    pr.headSha = head;
    pr.merged = true;
    pr.state = 'closed';
    pr.merges++;
    return { status: 200, body: null };
  }

  async #headOf(pr: DoublePullRequest): Promise<string> {
    return git(this.opts.bareRepo!, 'rev-parse', `refs/heads/${pr.head}`);
  }

  async #workClone(): Promise<string> {
    if (!this.#work) {
      this.#work = await makeTempDir('conveyor-forge-double-');
      await git(this.#work.path, 'clone', '--quiet', this.opts.bareRepo!, join(this.#work.path, 'work'));
    }
    return join(this.#work.path, 'work');
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn);
    this.#lock = run.catch(() => undefined);
    return run;
  }
}

function combined(states: string[]): string {
  if (states.length === 0) return 'pending';
  if (states.some((s) => s === 'failure' || s === 'error')) return 'failure';
  return states.every((s) => s === 'success') ? 'success' : 'pending';
}


