import { z } from 'zod';
import { ackBody } from '../api/alerts.ts';
import { resolveBody } from '../api/decisions.ts';
import { release } from '../api/effects.ts';
import { report } from '../api/jobs.ts';
import { createTask, dependencies, operatorEvent } from '../api/tasks.ts';
import {
  activityRecord, alertView, backgroundStatus, decisionRecord, effectRecord, guardCheck, historyEntry, jobRecord, page, queries, replayStep, runtimeStatus,
  sendOutcome, taskSummary, taskView, usage, webhookAnswer,
} from './schemas.ts';

/** How a route is called: the operator's token, an agent's job token, a webhook signature, the metrics token, or nothing. */
export type RouteAuth = 'api' | 'job' | 'stream' | 'tracker' | 'forge' | 'metrics' | 'none';

export type ContentKind = 'json' | 'text' | 'svg' | 'html' | 'javascript' | 'prometheus' | 'event-stream';

export interface ContractResponse {
  description: string;
  schema?: z.ZodType;
  content?: ContentKind;
}

/** One route of the contract; the path is written as the app routes it (`/api/tasks/:id`). */
export interface ContractRoute {
  method: 'get' | 'post' | 'delete';
  path: string;
  summary: string;
  tag: string;
  auth: RouteAuth;
  query?: z.ZodObject;
  body?: z.ZodType;
  responses: Record<number, ContractResponse>;
}

const ok = (description: string, schema: z.ZodType): Record<number, ContractResponse> => ({ 200: { description, schema } });
const obj = z.looseObject;
const listed = <T extends z.ZodType>(key: string, item: T) => obj({ [key]: z.array(item) });
const paged = <T extends z.ZodType>(key: string, item: T) => obj({ [key]: z.array(item), next: page });
const pagedQuery = (q: z.ZodObject) => q.extend(queries.page.shape);

/**
 * Every route of the HTTP app (a test holds the app to it): a route added to the app is added here, with
 * the zod schema its handler validates its body with.
 */
export const contractRoutes: ContractRoute[] = [
  { method: 'get', path: '/health', tag: 'operations', auth: 'none', summary: 'Liveness', responses: ok('alive', obj({ ok: z.literal(true) })) },
  { method: 'get', path: '/metrics', tag: 'operations', auth: 'metrics', summary: 'Prometheus metrics in text exposition format', responses: { 200: { description: 'the figures', content: 'prometheus' } } },

  { method: 'post', path: '/webhooks/tracker', tag: 'webhooks', auth: 'tracker', summary: 'Plane-style issue webhook, signed with X-Plane-Signature', body: obj({ event: z.string(), action: z.string().optional(), data: obj({}) }).describe('a Plane issue event'), responses: { 200: { description: 'recorded: a task event, a duplicate or nothing to do', schema: webhookAnswer }, 201: { description: 'a task was created', schema: webhookAnswer }, 202: { description: 'recorded but names no task', schema: webhookAnswer } } },
  { method: 'post', path: '/webhooks/forge', tag: 'webhooks', auth: 'forge', summary: 'Gitea, GitHub or Standard Webhooks delivery: status, check_run, pull_request, pull_request_review', body: obj({}).describe('the forge\'s own payload, or a Standard Webhooks envelope { type, data }'), responses: { 200: { description: 'recorded', schema: webhookAnswer }, 202: { description: 'recorded but names no task', schema: webhookAnswer } } },

  { method: 'get', path: '/api/tasks', tag: 'tasks', auth: 'api', summary: 'Tasks with their state, oldest first', query: pagedQuery(queries.tasks), responses: ok('a page of tasks', paged('tasks', taskSummary)) },
  { method: 'post', path: '/api/tasks', tag: 'tasks', auth: 'api', summary: 'Create a task', body: createTask, responses: { 200: { description: 'the task already made for that tracker issue', schema: obj({ created: z.literal(false), task: taskView }) }, 201: { description: 'created', schema: obj({ created: z.literal(true), task: taskView }) } } },
  { method: 'get', path: '/api/tasks/:id', tag: 'tasks', auth: 'api', summary: 'One task: state, context, jobs, what its agents spent, pending decisions, effects, dependencies', responses: ok('the task', obj({ task: taskView, jobs: z.array(jobRecord), spend: obj({ total: usage, byStage: z.record(z.string(), usage) }), decisions: z.array(decisionRecord), effects: z.array(effectRecord), waitingOn: z.array(z.string()) })) },
  { method: 'post', path: '/api/tasks/:id/dependencies', tag: 'tasks', auth: 'api', summary: 'Declare the tasks this one waits for; a cycle answers 409', body: dependencies, responses: ok('declared', obj({ waitingOn: z.array(z.string()), unknown: z.array(z.string()) })) },
  { method: 'get', path: '/api/tasks/:id/history', tag: 'tasks', auth: 'api', summary: 'Every accepted and ignored event, in order', query: queries.page, responses: ok('a page of history', paged('history', historyEntry)) },
  { method: 'get', path: '/api/tasks/:id/snapshot', tag: 'tasks', auth: 'api', summary: 'The raw persisted record', responses: ok('the record', obj({ id: z.string(), machineId: z.string(), version: z.number().int(), rev: z.number().int(), snapshot: z.unknown() })) },
  { method: 'post', path: '/api/tasks/:id/stages/:stage/refresh', tag: 'tasks', auth: 'api', summary: 'Re-sync the stage\'s worktree in the task\'s own turn at its gate; a hard reset answers 409 naming the backup ref', responses: { 200: { description: 'synced: what the sync did', schema: obj({ outcome: z.string(), task: taskView }) }, 202: { description: 'still syncing after a minute: the task\'s history tells the outcome', schema: obj({ outcome: z.literal('refreshing'), task: taskView }) } } },
  { method: 'post', path: '/api/tasks/:id/events', tag: 'tasks', auth: 'api', summary: 'An operator event; one the task does not take answers 409', body: operatorEvent, responses: ok('taken', obj({ outcome: sendOutcome, task: taskView })) },
  { method: 'get', path: '/api/tasks/:id/at/:n', tag: 'tasks', auth: 'api', summary: 'Time travel: the task after the n-th entry of its history (from 1, its creation), folded from the journal with the chart\'s pure transition; n outside the history answers 422', responses: ok('the task at that step', obj({ taskId: z.string(), n: z.number().int(), of: z.number().int(), entry: historyEntry, state: z.string(), status: z.string(), snapshot: z.unknown(), guards: z.array(guardCheck) })) },
  { method: 'get', path: '/api/tasks/:id/at/:n/chart.svg', tag: 'machines', auth: 'api', summary: 'The task chart as it stood after the n-th entry of its history, that state highlighted', responses: { 200: { description: 'SVG', content: 'svg' } } },
  { method: 'get', path: '/api/tasks/:id/replay', tag: 'tasks', auth: 'api', summary: 'Every step of the task\'s history replayed: event, from, to and the guards that decided, up to `to`', query: pagedQuery(queries.replay), responses: ok('a page of steps', paged('steps', replayStep)) },
  { method: 'get', path: '/api/tasks/:id/chart.svg', tag: 'machines', auth: 'api', summary: 'The task chart with the current state highlighted', responses: { 200: { description: 'SVG', content: 'svg' } } },

  { method: 'get', path: '/api/jobs', tag: 'jobs', auth: 'api', summary: 'Jobs, newest first', query: pagedQuery(queries.jobs), responses: ok('a page of jobs', paged('jobs', jobRecord)) },
  { method: 'get', path: '/api/jobs/:id', tag: 'jobs', auth: 'api', summary: 'A job record', responses: ok('the job', obj({ job: jobRecord })) },
  { method: 'get', path: '/api/jobs/:id/log', tag: 'jobs', auth: 'api', summary: 'A job\'s bounded log', responses: { 200: { description: 'the log', content: 'text' } } },
  { method: 'get', path: '/api/jobs/:id/activity', tag: 'jobs', auth: 'api', summary: 'What a job\'s agent did (a known CLI\'s parsed output), in order; empty for a plain command', query: queries.page, responses: ok('a page of activity', paged('activity', activityRecord)) },
  { method: 'post', path: '/api/jobs/:id/report', tag: 'jobs', auth: 'job', summary: 'An agent\'s result, with its own job token', body: report, responses: ok('taken', obj({ outcome: sendOutcome })) },

  { method: 'get', path: '/api/effects', tag: 'effects', auth: 'api', summary: 'The effect journal, newest first', query: pagedQuery(queries.effects), responses: ok('a page of effects', paged('effects', effectRecord)) },
  { method: 'post', path: '/api/effects/:key/release', tag: 'effects', auth: 'api', summary: 'Force-release an effect stuck in started', body: release, responses: ok('released', obj({ effect: effectRecord, resumed: z.boolean() })) },

  { method: 'get', path: '/api/decisions', tag: 'decisions', auth: 'api', summary: 'Questions put to humans, oldest first', query: pagedQuery(queries.decisions), responses: ok('a page of decisions', paged('decisions', decisionRecord)) },
  { method: 'get', path: '/api/decisions/:id', tag: 'decisions', auth: 'api', summary: 'One decision', responses: ok('the decision', obj({ decision: decisionRecord })) },
  { method: 'post', path: '/api/decisions/:id/resolve', tag: 'decisions', auth: 'api', summary: 'Answer a decision; an option not offered answers 422', body: resolveBody, responses: ok('resolved', obj({ decision: decisionRecord, task: taskView.optional() })) },

  { method: 'get', path: '/api/alerts', tag: 'alerts', auth: 'api', summary: 'Alerts, newest first, with a message and a suggested action', query: pagedQuery(queries.alerts), responses: ok('a page of alerts', paged('alerts', alertView)) },
  { method: 'get', path: '/api/alerts/:id', tag: 'alerts', auth: 'api', summary: 'One alert', responses: ok('the alert', obj({ alert: alertView })) },
  { method: 'post', path: '/api/alerts/:id/ack', tag: 'alerts', auth: 'api', summary: 'Acknowledge an alert; a second acknowledgement answers 409', body: ackBody, responses: ok('acknowledged', obj({ alert: alertView })) },

  { method: 'post', path: '/api/events/ticket', tag: 'events', auth: 'api', summary: 'A short-lived cookie that opens the event stream from a browser (EventSource sends no header)', responses: ok('the ticket is set as a cookie', obj({ expiresAt: z.string() })) },
  { method: 'delete', path: '/api/events/ticket', tag: 'events', auth: 'api', summary: 'Revoke the stream ticket sent as a cookie, and clear the cookie', responses: ok('revoked (false when no ticket came with the request)', obj({ revoked: z.boolean() })) },
  { method: 'get', path: '/api/events/stream', tag: 'events', auth: 'stream', summary: 'Server-Sent Events: committed transitions, decisions, alerts, jobs, effects and job activity', responses: { 200: { description: 'an event stream', content: 'event-stream' } } },
  { method: 'get', path: '/api/status', tag: 'operations', auth: 'api', summary: 'Tasks by stage, counters, store, scheduler, effects in flight, background loops', responses: ok('status', runtimeStatus) },
  { method: 'get', path: '/api/background', tag: 'operations', auth: 'api', summary: 'The reconciler\'s and the reaper\'s figures', responses: ok('figures', obj({ background: backgroundStatus })) },
  { method: 'post', path: '/api/background/:name/:action{enable|disable}', tag: 'operations', auth: 'api', summary: 'Switch a background loop on or off', responses: ok('switched', obj({ background: obj({ ok: z.literal(true), name: z.string(), enabled: z.boolean(), state: z.string() }) })) },

  { method: 'get', path: '/api/machines', tag: 'machines', auth: 'api', summary: 'Every machine conveyor runs', responses: ok('machines', listed('machines', obj({ id: z.string(), version: z.number().int() }))) },
  { method: 'get', path: '/api/machines/:id', tag: 'machines', auth: 'api', summary: 'A machine\'s definition, as JSON or as Stately source', query: queries.machine, responses: { 200: { description: 'the machine (JSON), or createMachine source with format=stately', schema: obj({ id: z.string(), version: z.number().int(), config: z.unknown(), definition: z.unknown() }) } } },
  { method: 'get', path: '/api/machines/:id/chart.svg', tag: 'machines', auth: 'api', summary: 'A machine\'s chart, drawn by conveyor', responses: { 200: { description: 'SVG', content: 'svg' } } },

  { method: 'get', path: '/api/openapi.json', tag: 'operations', auth: 'none', summary: 'This contract', responses: ok('OpenAPI 3.1', obj({ openapi: z.string() })) },
  { method: 'get', path: '/api/docs', tag: 'operations', auth: 'none', summary: 'This contract as a page', responses: { 200: { description: 'HTML', content: 'html' } } },
];
