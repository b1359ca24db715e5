import { Hono } from 'hono';
import { z } from 'zod';
import { spendOf, type Conveyor, type TaskEventInput } from '../../actors/index.ts';
import { HttpError } from '../http-error.ts';
import { jsonBody } from '../json-body.ts';
import { oneOf, pagedJson, pageQuery, paginate } from './page.ts';

/** xstate's snapshot statuses: a finished task is `done`. */
const taskStatuses = ['active', 'done', 'error', 'stopped'] as const;

/** The body of POST /api/tasks. */
export const createTask = z.strictObject({
  repo: z.string().min(1).max(200),
  title: z.string().min(1).max(500),
  trackerIssueId: z.string().min(1).max(200).optional(),
  branch: z.string().regex(/^[A-Za-z0-9._/-]+$/, 'must be a git branch name').max(200).optional(),
  dependsOn: z.array(z.string().min(1).max(100)).max(100).optional(),
});

/** The body of POST /api/tasks/:id/dependencies. */
export const dependencies = z.strictObject({ dependsOn: z.array(z.string().min(1).max(100)).max(100) });

/** The body of POST /api/tasks/:id/events. */
export const operatorEvent = z.strictObject({
  type: z.enum(['hold', 'resume', 'cancel', 'retry', 'approve', 'reject']),
  reason: z.string().max(2000).optional(),
  by: z.string().max(200).optional(),
});

function toTaskEvent(e: z.infer<typeof operatorEvent>): TaskEventInput {
  const reason = e.reason ?? `operator ${e.type}`;
  switch (e.type) {
    case 'hold':
      return { type: 'task.hold', reason };
    case 'resume':
      return { type: 'task.resume' };
    case 'cancel':
      return { type: 'task.cancel', reason };
    case 'retry':
      return { type: 'task.retry' };
    case 'approve':
      return { type: 'analysis.approved', by: e.by };
    case 'reject':
      return { type: 'analysis.rejected', by: e.by, reason: e.reason };
    default: {
      const never: never = e.type;
      throw new Error(`server: unknown operator event ${String(never)}`);
    }
  }
}

/** /api/tasks: create, list, inspect and steer tasks. */
export function tasksApi(conveyor: Conveyor) {
  const app = new Hono();
  const mustExist = (id: string) => {
    const view = conveyor.task(id);
    if (!view) throw new HttpError('not_found', `task ${id} does not exist`, 'id');
    return view;
  };

  app.get('/', (c) => {
    const tasks = conveyor.tasks({ stage: c.req.query('stage'), repo: c.req.query('repo'), status: oneOf(c, 'status', taskStatuses) });
    return pagedJson(c, 'tasks', tasks, (t) => [t.createdAt, t.id], 'asc');
  });

  app.post('/', async (c) => {
    const body = await jsonBody(c, createTask);
    const { taskId, created, dependencies: deps } = await conveyor.createTask(body, { source: 'operator' });
    return c.json({ created, task: conveyor.task(taskId), ...(deps && deps.ok ? { unknownDependencies: deps.unknown } : {}) }, created ? 201 : 200);
  });

  app.get('/:id', (c) => {
    const id = c.req.param('id');
    // Everything about one task in one answer (SPEC R32): state and context, its jobs, the decisions it
    // waits on, its effects, and the tasks it waits for.
    return c.json({
      task: mustExist(id),
      jobs: conveyor.jobsOf(id),
      // Tokens and cost the agent CLIs reported, in all and by stage.
      spend: spendOf(conveyor.jobsOf(id)),
      decisions: conveyor.decisions.list('pending', id),
      effects: conveyor.effects({ taskId: id }),
      waitingOn: conveyor.waitingOn(id),
    });
  });

  app.post('/:id/dependencies', async (c) => {
    const id = c.req.param('id');
    mustExist(id);
    const body = await jsonBody(c, dependencies);
    const result = await conveyor.declareDependencies(id, body.dependsOn);
    if (!result.ok) throw new HttpError('conflict', `dependency cycle: ${result.cycle.join(' → ')}; every task in it is on hold`, 'dependsOn', { cycle: result.cycle });
    return c.json({ waitingOn: result.waitingOn, unknown: result.unknown });
  });

  app.get('/:id/history', (c) => {
    mustExist(c.req.param('id'));
    const source = c.req.query('source');
    const type = c.req.query('type');
    const accepted = oneOf(c, 'accepted', ['true', 'false']);
    const q = pageQuery(c);
    // History only grows, so an entry's position is its stable sort key. Unfiltered, a page reads only its
    // own entries (and one more, to know whether a next page exists): a long history is not read whole.
    // A filter, or a cursor that names no position, reads it whole and leaves the rest to paginate.
    const next = q.after === null ? 0 : Number(q.after[0]) + 1;
    const whole = source !== undefined || type !== undefined || accepted !== undefined || !Number.isSafeInteger(next) || next < 0;
    const start = whole ? 0 : next;
    const entries = conveyor.history(c.req.param('id'), whole ? undefined : { from: start, count: q.limit + 1 }).map((entry, i) => ({ entry, at: start + i }));
    const matching = entries.filter(({ entry }) => (!source || entry.source === source) && (!type || entry.event.type === type) && (!accepted || String(entry.accepted) === accepted));
    const page = paginate(matching, (e) => [e.at], 'asc', q);
    return c.json({ history: page.items.map((e) => e.entry), next: page.next });
  });

  app.get('/:id/snapshot', (c) => {
    mustExist(c.req.param('id'));
    return c.json(conveyor.record(c.req.param('id')));
  });

  app.post('/:id/stages/:stage/refresh', async (c) => {
    const id = c.req.param('id');
    const result = await conveyor.refreshStage(id, c.req.param('stage'));
    if (result.ok) return c.json({ outcome: result.outcome, task: conveyor.task(id) }, result.outcome === 'refreshing' ? 202 : 200);
    switch (result.code) {
      case 'not_found':
        throw new HttpError('not_found', result.message, 'id');
      case 'wrong_stage':
        throw new HttpError('conflict', result.message, 'stage');
      case 'busy':
      case 'no_repository':
      case 'sync_failed':
        throw new HttpError('conflict', result.message);
      case 'recovery':
        // The downstream work does not run; the body names what was pinned and the decision to answer.
        return c.json(
          {
            error: { code: 'conflict', message: result.message },
            reason: result.reason,
            backup_ref: result.backupRef,
            discarded_shas: result.discardedShas,
            decision_id: result.decisionId,
          },
          409,
        );
      default: {
        const never: never = result;
        throw new Error(`server: unknown refresh result ${JSON.stringify(never)}`);
      }
    }
  });

  app.post('/:id/events', async (c) => {
    const id = c.req.param('id');
    mustExist(id);
    const body = await jsonBody(c, operatorEvent);
    const outcome = await conveyor.send(id, toTaskEvent(body), { source: 'operator' });
    if (outcome.status === 'ignored') throw new HttpError('conflict', outcome.reason, 'type', { outcome });
    return c.json({ outcome, task: conveyor.task(id) });
  });

  return app;
}
