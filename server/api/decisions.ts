import { Hono } from 'hono';
import { z } from 'zod';
import type { Conveyor } from '../../actors/index.ts';
import { HttpError } from '../http-error.ts';
import { jsonBody } from '../json-body.ts';
import { oneOf, pagedJson } from './page.ts';

/** The body of POST /api/decisions/:id/resolve. */
export const resolveBody = z.strictObject({ option: z.string().min(1).max(500), by: z.string().min(1).max(200).optional(), answer: z.string().min(1).max(10_000).optional() });
const statuses = ['pending', 'resolved', 'superseded'] as const;

/** /api/decisions: questions put to humans, and their answers (SPEC R25). */
export function decisionsApi(conveyor: Conveyor) {
  const app = new Hono();

  app.get('/', (c) => {
    const decisions = conveyor.decisions.list(oneOf(c, 'status', statuses), c.req.query('task'));
    return pagedJson(c, 'decisions', decisions, (d) => [d.openedAt, d.id], 'asc');
  });

  app.get('/:id', (c) => {
    const decision = conveyor.decisions.get(c.req.param('id'));
    if (!decision) throw new HttpError('not_found', `decision ${c.req.param('id')} does not exist`, 'id');
    return c.json({ decision });
  });

  app.post('/:id/resolve', async (c) => {
    const body = await jsonBody(c, resolveBody);
    const result = await conveyor.decisions.resolve(c.req.param('id'), body.option, body.by, body.answer);
    if (result.ok) return c.json({ decision: result.decision, outcome: result.outcome, task: conveyor.task(result.decision.taskId) });
    switch (result.code) {
      case 'not_found':
        throw new HttpError('not_found', result.message, 'id');
      case 'invalid_option':
        throw new HttpError('not_allowed', result.message, 'option', { options: result.options });
      case 'answer_required':
        throw new HttpError('not_allowed', result.message, 'answer');
      case 'already_closed':
      case 'refused':
        throw new HttpError('conflict', result.message);
      default: {
        const never: never = result.code;
        throw new Error(`server: unknown resolve failure ${String(never)}`);
      }
    }
  });
  return app;
}
