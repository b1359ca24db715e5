// The outside world of the retention benchmark: git, the forge, deploy commands and agents that all
// succeed at once and in process, so that what the benchmark measures is conveyor's own memory and files.
import type { CommandExit, Executor, GitWorkbench, JobSpec, RunningJob } from '../../actors/index.ts';

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/** Each pull request's head is its number as a sha, which is how the benchmark's webhooks name it. */
export const shaOf = (pr: number) => pr.toString(16).padStart(40, '0');

/** A forge that merges whatever it is asked to and forgets a pull request once told its task is over. */
export class QuietForge {
  readonly #merged = new Set<number>();

  readonly fetch = (async (input: string | URL | Request) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const match = /\/pulls\/(\d+)(\/merge)?$/.exec(url);
    if (!match) return json(404, { message: `quiet forge: no route ${url}` });
    const pr = Number(match[1]);
    if (match[2]) {
      this.#merged.add(pr);
      return json(200, { sha: shaOf(pr + 1) });
    }
    const merged = this.#merged.has(pr);
    return json(200, { number: pr, state: merged ? 'closed' : 'open', merged, merge_commit_sha: merged ? shaOf(pr + 1) : null, head: { sha: shaOf(pr) } });
  }) as typeof fetch;

  /** The task of this pull request is finished: nothing will ask about it again. */
  forget(pr: number): void {
    this.#merged.delete(pr);
  }
}

/** Worktrees that are always there and always level with their remote. */
export const quietGit: GitWorkbench = {
  ensureWorktree: async (_repo, taskId, branch) => ({ ok: true, path: `/nonexistent/worktrees/${taskId}`, branch, head: shaOf(0), created: false }),
  removeWorktree: async () => ({ ok: true, removed: true }),
  sync: async () => ({ outcome: 'in_sync', head: shaOf(0), ahead: 0, remoteBranch: true }),
  rebaseOntoTarget: async (_worktree, branch) => ({ head: branch, rebased: false, pushed: false }),
};

/** Deploy commands that succeed at once. */
export const quietDeploy = async (): Promise<CommandExit> => ({ code: 0, output: 'deployed' });

/** Agents that exit 0 at once and write no log. */
export function quietAgents(now: () => number): Executor {
  return {
    start: (_spec: JobSpec): RunningJob => ({ pid: null, startedAt: now(), exit: Promise.resolve({ kind: 'exited', code: 0, signal: null, finishedAt: now() }), kill: () => undefined }),
  };
}
