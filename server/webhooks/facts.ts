import type { z } from 'zod';

/** A commit status as conveyor understands it, whatever the forge called it. */
export type CiState = 'pending' | 'success' | 'failure' | 'error';

/** What a forge delivery says happened, normalized across Gitea, GitHub and Standard Webhooks. */
export type ForgeFact =
  | { kind: 'ci.status'; repo: string; sha: string; state: CiState; context: string; url?: string; description?: string; branches: string[] }
  | { kind: 'pr.opened' | 'pr.synchronized'; repo: string; number: number; branch: string; sha: string; url?: string }
  | { kind: 'pr.closed'; repo: string; number: number; branch: string; sha: string; merged: boolean; mergeSha?: string }
  | { kind: 'review.verdict'; repo: string; number: number; branch: string; sha: string; verdict: 'approved' | 'changes_requested'; comments?: string; reviewer?: string }
  /** A comment on a pull request addressed to conveyor: steering for the task's agent. */
  | { kind: 'comment'; repo: string; number: number; text: string; author?: string }
  // A well-formed event conveyor does not act on (a check run still running, a plain review comment, an edited title).
  | { kind: 'noop'; reason: string };

/** What a tracker status means to a task's pipeline. */
export type TrackerMeaning = 'start' | 'approved' | 'rejected' | 'blocked' | 'needs_input' | 'done' | 'cancelled' | 'other';

/** The tracker's own coarse grouping of workflow states. */
export type TrackerStateGroup = 'backlog' | 'unstarted' | 'started' | 'completed' | 'cancelled';

/** The fields shared by every tracker fact about an issue. */
export interface TrackerIssueFields {
  issueId: string;
  projectId?: string;
  title: string;
  stateId: string;
  group: TrackerStateGroup | null;
  meaning: TrackerMeaning;
  updatedAt?: string;
  repo?: string;
  branch?: string;
  blockedBy: string[];
}

/** What a tracker delivery says happened to an issue. */
export type TrackerFact =
  | ({ kind: 'issue.state' } & TrackerIssueFields)
  | ({ kind: 'issue.created' } & TrackerIssueFields)
  /** A comment on an issue addressed to conveyor: steering for the task's agent. */
  | { kind: 'issue.comment'; issueId: string; commentId: string; text: string; author?: string }
  | { kind: 'noop'; reason: string };

/** The outcome of parsing a delivery: a fact, or the HTTP status, closed code and message to answer with. */
export type ParseResult<T> =
  | { ok: true; fact: T }
  | { ok: false; status: 400 | 422; code: 'bad_json' | 'invalid_payload' | 'unknown_event'; message: string; field?: string };

/** The failure half of a ParseResult, which parsers of any fact type share. */
export type ParseFailure = Extract<ParseResult<never>, { ok: false }>;

/** Parses a raw body as JSON, or says why it is not JSON. */
export function readJson(rawBody: string): { ok: true; value: unknown } | ParseFailure {
  try {
    return { ok: true, value: JSON.parse(rawBody) as unknown };
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    return { ok: false, status: 400, code: 'bad_json', message: `webhooks: body is not valid JSON (${detail})` };
  }
}

/** Turns the first zod issue into a 422 that names the offending field by its dotted path in the body. */
export function invalidPayload(what: string, error: z.ZodError, pathPrefix = ''): ParseFailure {
  const issue = error.issues[0];
  const segments = (issue?.path ?? []).map((key) => String(key));
  const path = [pathPrefix, ...segments].filter((s) => s !== '').join('.');
  // zod says "Invalid input: expected string, received undefined"; a sender reads "missing" more easily.
  const detail = (issue?.message ?? 'invalid').replace(/^Invalid (input|option): /, '');
  if (path === '') {
    return { ok: false, status: 422, code: 'invalid_payload', message: `webhooks: ${what} body is invalid: ${detail}` };
  }
  const problem = detail.endsWith('received undefined') ? `is missing (${detail.replace(/, received undefined$/, '')})` : `is invalid: ${detail}`;
  return { ok: false, status: 422, code: 'invalid_payload', message: `webhooks: ${what} field ${path} ${problem}`, field: path };
}

/** Drops keys whose value is undefined, so an absent optional field is absent rather than present and empty. */
export function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** A 422 for an event name conveyor does not know. */
export function unknownEvent(source: string, name: string): ParseFailure {
  return { ok: false, status: 422, code: 'unknown_event', message: `webhooks: unknown ${source} event '${name}'` };
}
