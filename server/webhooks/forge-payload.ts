import { z } from 'zod';
import { definedOnly, invalidPayload, readJson, unknownEvent } from './facts.ts';
import type { CiState, ForgeFact, ParseFailure, ParseResult } from './facts.ts';
import { steeringText } from './steering.ts';

// Schemas name only the fields conveyor reads; zod drops the rest, so forge additions never break intake.
const text = z.string().min(1, 'expected a non-empty string');
const optionalText = z.string().nullish();
const repository = z.object({ full_name: text });
const head = z.object({ ref: text, sha: text });
const prNumber = z.number().int().positive();

const actionOnly = z.object({ action: text });
const envelope = z.object({ type: text, data: z.looseObject({}) });

const commitStatus = z.object({
  sha: text,
  // Gitea adds 'warning', which conveyor treats as a failed check.
  state: z.enum(['pending', 'success', 'failure', 'error', 'warning']),
  context: z.string(),
  target_url: optionalText,
  description: optionalText,
  repository,
  branches: z.array(z.object({ name: text })).optional(),
});

const checkRun = z.object({
  check_run: z.object({
    head_sha: text,
    name: z.string(),
    conclusion: text,
    html_url: optionalText,
    check_suite: z.object({ head_branch: optionalText }).nullish(),
  }),
  repository,
});

const pullRequest = z.object({
  number: prNumber,
  pull_request: z.object({ head, html_url: optionalText }),
  repository,
});

const pullRequestClosed = z.object({
  number: prNumber,
  pull_request: z.object({ head, merged: z.boolean(), merge_commit_sha: optionalText }),
  repository,
});

const githubReview = z.object({
  review: z.object({
    state: text,
    body: optionalText,
    commit_id: optionalText,
    user: z.object({ login: z.string() }).nullish(),
  }),
  pull_request: z.object({ number: prNumber, head }),
  repository,
});

const giteaReview = z.object({
  number: prNumber,
  pull_request: z.object({ head }),
  review: z.object({ content: optionalText }).nullish(),
  sender: z.object({ login: z.string() }).nullish(),
  repository,
});

// GitHub's issue_comment (a pull request's conversation), Gitea's issue_comment and pull_request_comment.
const issueComment = z.object({
  issue: z.object({ number: prNumber, pull_request: z.unknown().optional() }),
  comment: z.object({ body: optionalText, user: z.object({ login: z.string(), type: optionalText }).nullish() }),
  is_pull: z.boolean().nullish(),
  repository,
});
// GitHub's pull_request_review_comment: a comment on a line of the diff.
const reviewComment = z.object({
  comment: z.object({ body: optionalText, user: z.object({ login: z.string() }).nullish() }),
  pull_request: z.object({ number: prNumber }),
  repository,
});

const CHECK_SUCCESS = new Set(['success', 'neutral', 'skipped']);
const CHECK_FAILURE = new Set(['failure', 'timed_out', 'cancelled', 'action_required', 'stale']);

// Gitea's X-Gitea-Event says pull_request_approved; its X-Gitea-Event-Type says pull_request_review_approved.
const ALIASES = new Map([
  ['pull_request_review_approved', 'pull_request_approved'],
  ['pull_request_review_rejected', 'pull_request_rejected'],
]);

// Events a forge sends when its hook subscribes to everything; answering 422 would only fill its failure log.
const IGNORED = new Set([
  'ping', 'push', 'create', 'delete', 'issues', 'check_suite', 'workflow_run', 'workflow_job',
]);

type Parsed<T> = { ok: true; data: T } | ParseFailure;

function validate<T>(schema: z.ZodType<T>, value: unknown, event: string, prefix: string): Parsed<T> {
  const result = schema.safeParse(value);
  return result.success ? { ok: true, data: result.data } : invalidPayload(`forge ${event}`, result.error, prefix);
}

const present = (value: string | null | undefined): string | undefined =>
  value === null || value === undefined || value === '' ? undefined : value;

const fact = (f: ForgeFact): ParseResult<ForgeFact> => ({ ok: true, fact: definedOnly(f) });
const noop = (reason: string): ParseResult<ForgeFact> => fact({ kind: 'noop', reason });

const STATES = new Set(['pending', 'success', 'failure', 'error', 'warning']);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const nullishString = (v: unknown): v is string | null | undefined => v === undefined || v === null || typeof v === 'string';
const filled = (v: unknown): v is string => typeof v === 'string' && v !== '';

/**
 * The hot path: a well-formed commit status checked by hand, several times faster than zod. It accepts only
 * what commitStatus accepts and returns the same fields; anything else goes to zod, whose answer (and error) it is.
 */
function wellFormedStatus(body: unknown): z.infer<typeof commitStatus> | undefined {
  if (!isRecord(body)) return undefined;
  const { sha, state, context, target_url, description, repository, branches } = body;
  if (!filled(sha) || typeof state !== 'string' || !STATES.has(state) || typeof context !== 'string') return undefined;
  if (!nullishString(target_url) || !nullishString(description) || !isRecord(repository) || !filled(repository.full_name)) return undefined;
  if (branches !== undefined && (!Array.isArray(branches) || !branches.every((b) => isRecord(b) && filled(b.name)))) return undefined;
  return {
    sha, state: state as z.infer<typeof commitStatus>['state'], context, target_url, description, repository: { full_name: repository.full_name },
    branches: (branches as { name: string }[] | undefined)?.map((b) => ({ name: b.name })),
  };
}

function status(body: unknown, prefix: string): ParseResult<ForgeFact> {
  const fast = wellFormedStatus(body);
  const p = fast === undefined ? validate(commitStatus, body, 'status', prefix) : { ok: true as const, data: fast };
  if (!p.ok) return p;
  const d = p.data;
  const state: CiState = d.state === 'warning' ? 'failure' : d.state;
  return fact({
    kind: 'ci.status', repo: d.repository.full_name, sha: d.sha, state, context: d.context,
    url: present(d.target_url), description: present(d.description), branches: (d.branches ?? []).map((b) => b.name),
  });
}

function checkRunEvent(action: string, body: unknown, prefix: string): ParseResult<ForgeFact> {
  if (action !== 'completed') return noop(`check_run ${action}: not completed yet`);
  const p = validate(checkRun, body, 'check_run', prefix);
  if (!p.ok) return p;
  const run = p.data.check_run;
  const conclusion = run.conclusion.toLowerCase();
  // A conclusion GitHub may add later is neither green nor a known red; 'error' keeps it from counting as a pass.
  const state: CiState = CHECK_SUCCESS.has(conclusion) ? 'success' : CHECK_FAILURE.has(conclusion) ? 'failure' : 'error';
  const branch = present(run.check_suite?.head_branch);
  return fact({
    kind: 'ci.status', repo: p.data.repository.full_name, sha: run.head_sha, state, context: run.name,
    url: present(run.html_url), branches: branch === undefined ? [] : [branch],
  });
}

function pullRequestEvent(action: string, body: unknown, prefix: string): ParseResult<ForgeFact> {
  if (action === 'closed') {
    const p = validate(pullRequestClosed, body, 'pull_request', prefix);
    if (!p.ok) return p;
    const { number, pull_request: pr, repository: repo } = p.data;
    const mergeSha = pr.merged ? present(pr.merge_commit_sha) : undefined;
    return fact({ kind: 'pr.closed', repo: repo.full_name, number, branch: pr.head.ref, sha: pr.head.sha, merged: pr.merged, mergeSha });
  }
  const kind = action === 'opened' || action === 'reopened' ? 'pr.opened'
    : action === 'synchronize' || action === 'synchronized' ? 'pr.synchronized' : undefined;
  if (kind === undefined) return noop(`pull_request ${action}: nothing for conveyor to do`);
  const p = validate(pullRequest, body, 'pull_request', prefix);
  if (!p.ok) return p;
  const { number, pull_request: pr, repository: repo } = p.data;
  return fact({ kind, repo: repo.full_name, number, branch: pr.head.ref, sha: pr.head.sha, url: present(pr.html_url) });
}

function githubReviewEvent(action: string, body: unknown, prefix: string): ParseResult<ForgeFact> {
  if (action !== 'submitted') return noop(`pull_request_review ${action}: only submitted reviews carry a verdict`);
  const p = validate(githubReview, body, 'pull_request_review', prefix);
  if (!p.ok) return p;
  const { review, pull_request: pr, repository: repo } = p.data;
  const state = review.state.toLowerCase();
  if (state !== 'approved' && state !== 'changes_requested') return noop(`pull_request_review ${state}: not a verdict`);
  return fact({
    kind: 'review.verdict', repo: repo.full_name, number: pr.number, branch: pr.head.ref,
    sha: present(review.commit_id) ?? pr.head.sha, verdict: state, comments: present(review.body), reviewer: present(review.user?.login),
  });
}

function giteaReviewEvent(event: string, body: unknown, prefix: string): ParseResult<ForgeFact> {
  const p = validate(giteaReview, body, event, prefix);
  if (!p.ok) return p;
  const { number, pull_request: pr, review, sender, repository: repo } = p.data;
  return fact({
    kind: 'review.verdict', repo: repo.full_name, number, branch: pr.head.ref, sha: pr.head.sha,
    verdict: event === 'pull_request_approved' ? 'approved' : 'changes_requested',
    comments: present(review?.content), reviewer: present(sender?.login),
  });
}

function commentEvent(event: string, action: string, body: unknown, prefix: string): ParseResult<ForgeFact> {
  if (action !== 'created') return noop(`${event} ${action}: only a new comment steers`);
  if (event === 'pull_request_review_comment') {
    const p = validate(reviewComment, body, event, prefix);
    if (!p.ok) return p;
    const text = steeringText(p.data.comment.body);
    if (text === null) return noop(`${event}: not addressed to conveyor`);
    return fact({ kind: 'comment', repo: p.data.repository.full_name, number: p.data.pull_request.number, text, author: present(p.data.comment.user?.login) });
  }
  const p = validate(issueComment, body, event, prefix);
  if (!p.ok) return p;
  const { issue, comment, is_pull: isPull, repository: repo } = p.data;
  const onPull = event === 'pull_request_comment' || isPull === true || (issue.pull_request !== undefined && issue.pull_request !== null);
  if (!onPull) return noop(`${event}: a comment on an issue, not on a pull request`);
  const text = steeringText(comment.body);
  if (text === null) return noop(`${event}: not addressed to conveyor`);
  return fact({ kind: 'comment', repo: repo.full_name, number: issue.number, text, author: present(comment.user?.login) });
}

function dispatch(event: string, body: unknown, prefix: string): ParseResult<ForgeFact> {
  if (IGNORED.has(event)) return noop(`${event}: not an event conveyor acts on`);
  if (event === 'status') return status(body, prefix);
  if (event === 'pull_request_approved' || event === 'pull_request_rejected') return giteaReviewEvent(event, body, prefix);
  const comments = ['issue_comment', 'pull_request_comment', 'pull_request_review_comment'];
  if (event !== 'check_run' && event !== 'pull_request' && event !== 'pull_request_review' && !comments.includes(event)) return unknownEvent('forge', event);
  const a = validate(actionOnly, body, event, prefix);
  if (!a.ok) return a;
  if (comments.includes(event)) return commentEvent(event, a.data.action, body, prefix);
  if (event === 'check_run') return checkRunEvent(a.data.action, body, prefix);
  if (event === 'pull_request') return pullRequestEvent(a.data.action, body, prefix);
  return githubReviewEvent(a.data.action, body, prefix);
}

/** Parses a forge delivery (Gitea, GitHub, or a Standard Webhooks envelope when no event header came) into one fact; never throws. */
export function parseForgeEvent(eventName: string | undefined, rawBody: string): ParseResult<ForgeFact> {
  const json = readJson(rawBody);
  return json.ok ? parseForgeJson(eventName, json.value) : json;
}

/** Like parseForgeEvent, for a body already read as JSON. */
export function parseForgeJson(eventName: string | undefined, value: unknown): ParseResult<ForgeFact> {
  const named = eventName?.trim().toLowerCase();
  if (named !== undefined && named !== '') return dispatch(ALIASES.get(named) ?? named, value, '');
  // Standard Webhooks carries the event name in the body and the native payload under data.
  const e = validate(envelope, value, 'standard webhook', '');
  if (!e.ok) return e;
  const type = e.data.type.trim().toLowerCase();
  return dispatch(ALIASES.get(type) ?? type, e.data.data, 'data');
}
