import { z } from 'zod';
import { definedOnly, invalidPayload, readJson, unknownEvent } from './facts.ts';
import { commentPlainText, steeringText } from './steering.ts';
import type { ParseFailure, ParseResult, TrackerFact, TrackerMeaning, TrackerStateGroup } from './facts.ts';

/** What conveyor knows about each tracker state id: its group and what it means to a pipeline. */
export type TrackerStateMap = Record<string, { group: TrackerStateGroup; meaning: TrackerMeaning; name?: string }>;

const GROUPS: readonly TrackerStateGroup[] = ['backlog', 'unstarted', 'started', 'completed', 'cancelled'];

// Plane sends these too; they are well-formed but say nothing about a task's issue.
const NON_ISSUE_EVENTS = new Set(['project', 'cycle', 'module']);

const text = z.string().min(1, 'expected a non-empty string');
const optionalText = z.string().nullish();

// Plane's comment webhook: the comment, with its issue's id and its author.
const commentBody = z.object({
  data: z.object({
    id: text,
    issue: text,
    comment_stripped: optionalText,
    comment_html: optionalText,
    actor_detail: z.object({ display_name: optionalText }).nullish(),
  }),
});

const eventOnly = z.object({ event: z.string().nullish() });
const actionOnly = z.object({ action: text });

// Enough of an update to tell whether it touches the state before validating the whole issue.
const updateShape = z.object({
  data: z.looseObject({ state: z.unknown().optional() }),
  activity: z.object({ field: optionalText }).nullish(),
});

const stateField = z.union([text, z.object({ id: text, name: optionalText, group: optionalText })], {
  error: (issue) => issue.input === undefined
    ? 'expected a state id or an object with an id, received undefined'
    : 'expected a state id or an object with an id',
});

const issueBody = z.object({
  data: z.object({
    id: text,
    name: z.string(),
    project: optionalText,
    state: stateField,
    updated_at: optionalText,
    // conveyor's own extensions: which repository and branch the issue works on, and what it waits for.
    repo: optionalText,
    branch: optionalText,
    blocked_by: z.array(text).nullish(),
  }),
});

type Parsed<T> = { ok: true; data: T } | ParseFailure;

function validate<T>(schema: z.ZodType<T>, value: unknown, what: string): Parsed<T> {
  const result = schema.safeParse(value);
  return result.success ? { ok: true, data: result.data } : invalidPayload(`tracker ${what}`, result.error);
}

const present = (value: string | null | undefined): string | undefined =>
  value === null || value === undefined || value === '' ? undefined : value;

const noop = (reason: string): ParseResult<TrackerFact> => ({ ok: true, fact: { kind: 'noop', reason } });

function issueFact(kind: 'issue.state' | 'issue.created', body: unknown, stateMap: TrackerStateMap): ParseResult<TrackerFact> {
  const p = validate(issueBody, body, `issue ${kind === 'issue.created' ? 'created' : 'updated'}`);
  if (!p.ok) return p;
  const d = p.data.data;
  const stateId = typeof d.state === 'string' ? d.state : d.state.id;
  const sentGroup = typeof d.state === 'string' ? undefined : d.state.group;
  // Own-property lookup: a state id such as 'constructor' must not find Object.prototype.
  const known = Object.hasOwn(stateMap, stateId) ? stateMap[stateId] : undefined;
  const group = known?.group ?? GROUPS.find((g) => g === sentGroup) ?? null;
  return {
    ok: true,
    fact: definedOnly({
      kind, issueId: d.id, projectId: present(d.project), title: d.name, stateId, group,
      meaning: known?.meaning ?? 'other', updatedAt: present(d.updated_at),
      repo: present(d.repo), branch: present(d.branch), blockedBy: d.blocked_by ?? [],
    }),
  };
}

/** A new comment addressed to conveyor as steering; any other comment says nothing to conveyor. */
function commentFact(body: unknown): ParseResult<TrackerFact> {
  const a = validate(actionOnly, body, 'issue_comment');
  if (!a.ok) return a;
  if (a.data.action !== 'created') return noop(`issue_comment ${a.data.action}: only a new comment steers`);
  const p = validate(commentBody, body, 'issue_comment');
  if (!p.ok) return p;
  const d = p.data.data;
  const steering = steeringText(commentPlainText(d.comment_stripped, d.comment_html));
  if (steering === null) return noop('issue_comment: not addressed to conveyor');
  return { ok: true, fact: definedOnly({ kind: 'issue.comment' as const, issueId: d.issue, commentId: d.id, text: steering, author: present(d.actor_detail?.display_name) }) };
}

/** Parses a Plane-style tracker delivery into an issue fact, using the state map for meaning; never throws. */
export function parseTrackerEvent(eventName: string | undefined, rawBody: string, stateMap: TrackerStateMap): ParseResult<TrackerFact> {
  const json = readJson(rawBody);
  if (!json.ok) return json;
  const body = json.value;
  let event = eventName?.trim().toLowerCase();
  if (event === undefined || event === '') {
    // Without X-Plane-Event the body's own event field names it.
    const e = validate(eventOnly, body, 'event');
    if (!e.ok) return e;
    event = e.data.event?.trim().toLowerCase();
    if (event === undefined || event === '') {
      return { ok: false, status: 422, code: 'invalid_payload', message: 'webhooks: tracker event is named neither by X-Plane-Event nor by the body field event', field: 'event' };
    }
  }
  if (NON_ISSUE_EVENTS.has(event)) return noop(`${event}: not an issue event`);
  if (event === 'issue_comment') return commentFact(body);
  if (event !== 'issue') return unknownEvent('tracker', event);

  const a = validate(actionOnly, body, 'issue');
  if (!a.ok) return a;
  const action = a.data.action;
  if (action === 'created') return issueFact('issue.created', body, stateMap);
  if (action !== 'updated') return noop(`issue ${action}: nothing for conveyor to do`);

  const u = validate(updateShape, body, 'issue updated');
  if (!u.ok) return u;
  // Every Plane update carries the issue's current state; only a change of the state field is a state change,
  // or an edit (a rename) would replay In Progress and lift an operator's hold.
  const field = u.data.activity?.field;
  if (field !== undefined && field !== null && field !== 'state') return noop(`issue updated: ${field} changed, not the state`);
  const touchesState = field === 'state' || (u.data.data.state !== undefined && u.data.data.state !== null);
  if (!touchesState) return noop('issue updated: the change does not carry a state');
  return issueFact('issue.state', body, stateMap);
}
