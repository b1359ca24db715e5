import type { SimClock } from './clock.ts';
import type { Faults } from './faults.ts';
import type { SimRandom } from './random.ts';
import { json, simFetch } from './sim-api.ts';
import type { Webhooks } from './webhooks.ts';

export const REPO = 'acme/shop';
export const FORGE_API = 'http://forge.sim/api/v1';

interface PullRequest {
  number: number;
  branch: string;
  head: string;
  state: 'open' | 'closed';
  merged: boolean;
  mergeSha: string | null;
}

/**
 * A Gitea-like forge in memory: branches pushed by agents open pull requests, CI runs on every head and
 * reports by webhook, merges come through its REST API. Counts every merge it performs, so a second
 * merge of one task's branch is seen.
 */
export class SimForge {
  readonly #prs = new Map<number, PullRequest>();
  readonly #byBranch = new Map<string, number>();
  readonly #statuses = new Map<string, { context: string; state: string }[]>();
  #shas = 0;
  /** Merges performed, per branch: more than one is a violation. */
  readonly merges = new Map<string, number>();

  constructor(
    private readonly clock: SimClock,
    private readonly random: SimRandom,
    private readonly faults: Faults,
    private readonly hooks: Webhooks,
  ) {}

  /** An agent pushes a new commit to its branch: the pull request opens or moves, CI starts on the new head. */
  push(branch: string): string {
    const sha = (++this.#shas).toString(16).padStart(40, 'c');
    const known = this.#byBranch.get(branch);
    let pr: PullRequest;
    if (known === undefined) {
      pr = { number: this.#prs.size + 1, branch, head: sha, state: 'open', merged: false, mergeSha: null };
      this.#prs.set(pr.number, pr);
      this.#byBranch.set(branch, pr.number);
      this.hooks.send('forge', 'pull_request', prPayload('opened', pr));
    } else {
      pr = this.#prs.get(known)!;
      if (pr.merged) return pr.head;
      pr.head = sha;
      this.hooks.send('forge', 'pull_request', prPayload('synchronized', pr));
    }
    this.#statuses.set(sha, [{ context: 'ci/build', state: 'pending' }]);
    const red = this.faults.roll('ciRed');
    this.clock.later(this.random.int(60_000, 20 * 60_000), () => {
      const state = red ? 'failure' : 'success';
      this.#statuses.set(sha, [{ context: 'ci/build', state }]);
      this.hooks.send('forge', 'status', statusPayload(sha, state, branch));
    });
    return sha;
  }

  headOf(branch: string): string | null {
    const n = this.#byBranch.get(branch);
    return n === undefined ? null : this.#prs.get(n)!.head;
  }

  /** The forge's REST API as conveyor's fetch sees it: answers after a delay, fails, times out or limits as the faults say. */
  readonly fetch = (alive: () => boolean): typeof fetch =>
    simFetch({ clock: this.clock, random: this.random, faults: this.faults, alive, answer: (method, url, body) => this.#answer(method, url.pathname, body) });

  #answer(method: string, path: string, body: Record<string, unknown>): Response {
    const prMatch = /^\/api\/v1\/repos\/acme\/shop\/pulls\/(\d+)(\/merge)?$/.exec(path);
    if (prMatch) {
      const pr = this.#prs.get(Number(prMatch[1]));
      if (!pr) return json(404, { message: 'no such pull request' });
      if (!prMatch[2] && method === 'GET') return json(200, { number: pr.number, state: pr.state, merged: pr.merged, merge_commit_sha: pr.mergeSha, head: { ref: pr.branch, sha: pr.head } });
      if (prMatch[2] && method === 'POST') return this.#merge(pr, body.head_commit_id);
    }
    const statusMatch = /^\/api\/v1\/repos\/acme\/shop\/commits\/([0-9a-f]+)\/status$/.exec(path);
    if (statusMatch && method === 'GET') {
      const statuses = this.#statuses.get(statusMatch[1]!) ?? [];
      const state = statuses.some((s) => s.state === 'failure') ? 'failure' : statuses.every((s) => s.state === 'success') && statuses.length > 0 ? 'success' : 'pending';
      return json(200, { state, statuses });
    }
    return json(404, { message: `sim: no route ${method} ${path}` });
  }

  #merge(pr: PullRequest, head: unknown): Response {
    if (pr.merged) return json(405, { message: 'already merged' });
    if (typeof head === 'string' && head !== pr.head) return json(409, { message: 'head moved' });
    if (this.faults.roll('mergeConflict')) return json(405, { message: 'merge conflict' });
    pr.merged = true;
    pr.state = 'closed';
    pr.mergeSha = (++this.#shas).toString(16).padStart(40, 'e');
    this.merges.set(pr.branch, (this.merges.get(pr.branch) ?? 0) + 1);
    this.hooks.send('forge', 'pull_request', prPayload('closed', pr));
    return json(200, { sha: pr.mergeSha });
  }
}

const repository = { id: 1, full_name: REPO, private: true };

function prPayload(action: string, pr: PullRequest) {
  return {
    action, number: pr.number, repository, sender: { login: 'agent' },
    pull_request: { number: pr.number, html_url: `https://forge.sim/${REPO}/pulls/${pr.number}`, head: { ref: pr.branch, sha: pr.head }, merged: pr.merged, merge_commit_sha: pr.mergeSha },
  };
}

function statusPayload(sha: string, state: string, branch: string) {
  return { sha, state, context: 'ci/build', target_url: `https://ci.sim/${sha.slice(0, 7)}`, description: state, repository, branches: [{ name: branch, commit: { sha } }] };
}
