import { createRequire } from 'node:module';

/** One of GitHub's documented webhook events, as @octokit/webhooks-examples keeps them. */
interface Definition {
  name: string;
  examples: Record<string, unknown>[];
}

const definitions = createRequire(import.meta.url)('@octokit/webhooks-examples') as Definition[];

/** A deep copy of GitHub's documented example of `event` (with `action`, if given), untouched in shape. */
export function githubExample(event: string, action?: string): Record<string, unknown> {
  const examples = definitions.find((d) => d.name === event)?.examples ?? [];
  const example = examples.find((e) => action === undefined || e.action === action);
  if (!example) throw new Error(`github-examples: no example of ${event}${action ? ` ${action}` : ''}`);
  return structuredClone(example);
}

type Json = Record<string, unknown>;
const at = (value: unknown, ...path: string[]): Json => {
  let node = value as Json;
  for (const key of path) node = node[key] as Json;
  return node;
};

/**
 * The example moved to repository `owner/repo` (every URL and name that spelled the original) and,
 * where it names a commit and branch, to `sha` on `branch`; nothing else changes, so the shape stays GitHub's.
 */
export function asGithubDelivery(example: Json, where: { owner: string; repo: string; sha?: string; branch?: string; number?: number }): Json {
  const original = at(example, 'repository').full_name as string;
  const [owner, name] = original.split('/') as [string, string];
  const text = JSON.stringify(example)
    .replaceAll(original, `${where.owner}/${where.repo}`)
    .replaceAll(`"login":"${owner}"`, `"login":"${where.owner}"`)
    .replaceAll(`"name":"${name}"`, `"name":"${where.repo}"`);
  const payload = JSON.parse(text) as Json;
  const { sha, branch, number } = where;
  const pr = payload.pull_request as Json | undefined;
  if (pr) {
    if (sha) at(pr, 'head').sha = sha;
    if (branch) at(pr, 'head').ref = branch;
    if (number) pr.number = number;
  }
  if (number && payload.number !== undefined) payload.number = number;
  if (payload.check_run) {
    if (sha) at(payload, 'check_run').head_sha = sha;
    if (branch) at(payload, 'check_run', 'check_suite').head_branch = branch;
  }
  if (payload.review && sha) at(payload, 'review').commit_id = sha;
  if (payload.state !== undefined && payload.context !== undefined && sha) {
    // A status event: its commit and the branches that contain it.
    payload.sha = sha;
    at(payload, 'commit').sha = sha;
    if (branch) payload.branches = [{ name: branch, commit: { sha, url: `https://api.github.com/repos/${where.owner}/${where.repo}/commits/${sha}` }, protected: false }];
  }
  return payload;
}
