import { z } from 'zod';

// What conveyor answers with, described for the contract. Records are loose objects: the contract names
// the fields clients rely on, and a field added later does not make an answer invalid.

const id = z.string().min(1);
const millis = z.number().describe('milliseconds since the epoch');

export const errorBody = z.looseObject({
  error: z.looseObject({
    code: z.enum(['unauthorized', 'bad_json', 'invalid_payload', 'unknown_event', 'not_found', 'payload_too_large', 'conflict', 'not_allowed', 'unavailable', 'internal']),
    message: z.string(),
    field: z.string().optional(),
  }),
});

export const taskSummary = z.looseObject({ id, title: z.string(), repo: z.string(), state: z.string(), stage: z.string(), status: z.string(), createdAt: millis.optional() });

export const taskView = taskSummary.extend({
  branch: z.string(),
  trackerIssueId: z.string().optional(),
  createdAt: millis,
  tags: z.array(z.string()),
  rev: z.number().int(),
  machine: z.looseObject({ id: z.string(), version: z.number().int() }),
  context: z.looseObject({ id, repo: z.string(), branch: z.string(), retries: z.number().int(), epoch: z.number().int() }).describe('the task machine\'s context'),
  pending: z.looseObject({ deadline: millis.nullable() }),
});

export const historyEntry = z.looseObject({
  at: millis,
  source: z.enum(['webhook', 'reconciler', 'reaper', 'operator', 'timer', 'job', 'effect', 'runtime', 'decision']),
  event: z.looseObject({ type: z.string() }),
  accepted: z.boolean(),
  reason: z.string().optional(),
  from: z.string(),
  to: z.string(),
  emitted: z.array(z.looseObject({ type: z.string() })).optional(),
  rev: z.number().int().min(1).optional().describe('the rev the task reached: set on a transition, absent on a refused event or a note'),
  forced: z.literal(true).optional().describe('a cancel or hold the chart could not take itself'),
});

/** A guard the chart evaluated while taking an event, and its answer. */
export const guardCheck = z.looseObject({ guard: z.string(), params: z.unknown().optional(), passed: z.boolean() });

/** One step of a replayed history. */
export const replayStep = z.looseObject({
  n: z.number().int().min(1), at: millis, source: z.string(), event: z.looseObject({ type: z.string() }), accepted: z.boolean(), reason: z.string().optional(),
  from: z.string(), to: z.string(), moved: z.boolean().describe('whether the entry moved the task (a transition), not a refused event or a note'), guards: z.array(guardCheck),
});

export const usage = z.looseObject({
  inputTokens: z.number().int(), outputTokens: z.number().int(), cacheReadTokens: z.number().int(), cacheWriteTokens: z.number().int(),
  costUsd: z.number().nullable().describe('null when the CLI reports no cost (Codex)'),
});

export const jobRecord = z.looseObject({
  id, taskId: id, stage: z.string(), agent: z.string(), repo: z.string(), attempt: z.number().int(),
  status: z.enum(['queued', 'starting', 'running', 'exited', 'timed_out', 'failed_to_start', 'killed', 'lost', 'orphaned']),
  requestedAt: millis, startedAt: millis.optional(), finishedAt: millis.optional(),
  pid: z.number().int().nullable().optional(), exitCode: z.number().int().nullable().optional(), reason: z.string().optional(),
  kind: z.enum(['claude-code', 'codex']).optional().describe('the agent CLI, absent for a plain command'),
  session: z.string().optional().describe('the CLI\'s own session, resumed by the next job of the stage'),
  resumedSession: z.string().optional(),
  activity: z.looseObject({ count: z.number().int(), lastAt: millis.nullable() }).optional(),
  usage: usage.optional(),
  question: z.looseObject({ text: z.string(), options: z.array(z.string()).optional() }).optional().describe('what the agent ended asking a person'),
});

export const activityRecord = z.looseObject({
  seq: z.number().int(), at: millis, offset: z.number().int().describe('byte offset in the job\'s log past the line this came from'),
  kind: z.enum(['text', 'tool', 'file', 'error', 'result', 'question', 'input', 'session', 'usage', 'truncated']),
  text: z.string().optional(), options: z.array(z.string()).optional(), tool: z.string().optional(), target: z.string().optional(), path: z.string().optional(),
  session: z.string().optional(), usage: usage.optional().describe('on usage records: the job\'s spend so far'), isError: z.boolean().optional(),
});

export const decisionRecord = z.looseObject({
  id, taskId: id, contextKey: z.string(), question: z.string(), options: z.array(z.string()),
  status: z.enum(['pending', 'resolved', 'superseded']), openedAt: millis,
  resolution: z.string().optional(), answer: z.string().optional().describe('a reply\'s own words'), by: z.string().optional(), resolvedAt: millis.optional(),
});

export const effectRecord = z.looseObject({
  key: z.string(), taskId: id, effect: z.string(), bootId: z.string(), startedAt: millis,
  status: z.enum(['started', 'completed', 'failed', 'abandoned']), finishedAt: millis.optional(), error: z.string().optional(),
});

export const alertView = z.looseObject({
  id, kind: z.string(), at: millis, taskId: z.string().nullable(), message: z.string(), suggestedAction: z.string(),
  status: z.enum(['open', 'acknowledged']),
  acknowledged: z.looseObject({ by: z.string(), at: millis }).nullable(),
  details: z.record(z.string(), z.unknown()),
});

export const sendOutcome = z.discriminatedUnion('status', [
  z.looseObject({ status: z.literal('accepted'), taskId: id, from: z.string(), to: z.string() }),
  z.looseObject({ status: z.literal('ignored'), taskId: id, reason: z.string(), state: z.string() }),
  z.looseObject({ status: z.literal('duplicate'), taskId: z.string() }),
  z.looseObject({ status: z.literal('not_found'), taskId: z.string() }),
]);

/** What a webhook delivery came to: a task event's outcome, a task created, or why nothing moved. */
export const webhookAnswer = z.looseObject({
  outcome: z.union([
    sendOutcome,
    z.looseObject({ status: z.literal('created'), taskId: id }),
    z.looseObject({ status: z.enum(['unrouted', 'noop']), reason: z.string() }),
  ]),
});

const counts = z.record(z.string(), z.number());

export const runtimeStatus = z.looseObject({
  bootId: z.string(),
  startedAt: z.string(),
  machine: z.looseObject({ id: z.string(), version: z.number().int() }),
  tasks: z.looseObject({ total: z.number().int(), byStage: counts, live: z.number().int(), sleeping: z.number().int(), actorStarts: z.number().int().describe('task actors started since boot: a task with nothing running takes its events without one') }),
  events: counts,
  store: z.looseObject({ seq: z.number().int(), journalRecords: z.number().int(), checkpoints: z.number().int() }),
  scheduler: z.looseObject({ queued: z.number().int(), running: z.number().int(), byRepo: z.record(z.string(), z.looseObject({ queued: z.number().int(), running: z.number().int() })) }).nullable(),
  effects: z.looseObject({ inFlight: z.array(effectRecord), reconciled: z.number().int() }),
  reconciler: z.looseObject({ ticks: z.number().int() }).nullable(),
  reaper: z.looseObject({ ticks: z.number().int() }).nullable(),
  supervisor: z.looseObject({ state: z.string(), degraded: z.boolean() }).nullable(),
});

export const backgroundStatus = z.looseObject({
  reconciler: z.looseObject({ ticks: z.number().int(), enabled: z.boolean(), state: z.string() }),
  reaper: z.looseObject({ ticks: z.number().int(), enabled: z.boolean(), state: z.string() }),
  supervisor: z.looseObject({ state: z.string(), restarts: z.number().int(), degraded: z.boolean() }),
});

export const page = z.string().nullable().describe('cursor of the next page, to pass as `cursor`; null on the last page');

/** Query strings, described as the routes read them. */
export const queries = {
  page: z.object({
    cursor: z.string().optional().describe('the `next` of the previous page'),
    limit: z.coerce.number().int().min(1).max(1000).optional().describe('items per page, 100 by default'),
  }),
  tasks: z.object({ stage: z.string().optional(), repo: z.string().optional(), status: z.enum(['active', 'done', 'error', 'stopped']).optional() }),
  jobs: z.object({ task: z.string().optional(), stage: z.string().optional(), status: z.enum(['queued', 'starting', 'running', 'exited', 'timed_out', 'failed_to_start', 'killed', 'lost', 'orphaned']).optional() }),
  decisions: z.object({ status: z.enum(['pending', 'resolved', 'superseded']).optional(), task: z.string().optional() }),
  effects: z.object({ status: z.enum(['started', 'completed', 'failed', 'abandoned']).optional(), task: z.string().optional() }),
  alerts: z.object({ kind: z.string().optional(), task: z.string().optional(), status: z.enum(['open', 'acknowledged']).optional() }),
  machine: z.object({ format: z.enum(['json', 'stately']).optional() }),
  replay: z.object({ to: z.coerce.number().int().min(1).optional().describe('replay up to this entry of the history') }),
};
