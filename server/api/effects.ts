import { Hono } from 'hono';
import { z } from 'zod';
import { effectStatuses, type Conveyor } from '../../actors/index.ts';
import { HttpError } from '../http-error.ts';
import { jsonBody } from '../json-body.ts';
import { oneOf, pagedJson } from './page.ts';

/** The body of POST /api/effects/:key/release. */
export const release = z.strictObject({
  reason: z.string().trim().min(1).max(2000),
  by: z.string().trim().min(1).max(200),
});

/** /api/effects: the effect journal, and the operator's release of an effect stuck in flight. */
export function effectsApi(conveyor: Conveyor) {
  const app = new Hono();

  app.get('/', (c) => {
    const effects = conveyor.effects({ status: oneOf(c, 'status', effectStatuses), taskId: c.req.query('task') });
    return pagedJson(c, 'effects', effects, (e) => [e.startedAt, e.key], 'desc');
  });

  app.post('/:key/release', async (c) => {
    const key = c.req.param('key');
    const body = await jsonBody(c, release);
    const released = await conveyor.releaseEffect(key, body.reason, body.by);
    switch (released.status) {
      case 'not_found':
        throw new HttpError('not_found', `effect ${key} is not in the journal`, 'key');
      case 'not_in_flight':
        throw new HttpError('conflict', `effect ${key} is ${released.record.status}, not in flight; only a started effect can be released`, 'key', { effect: released.record });
      case 'released':
        return c.json({ effect: released.record, outcome: released.outcome, resumed: released.resumed });
      default: {
        const never: never = released;
        throw new Error(`server: unknown release outcome ${JSON.stringify(never)}`);
      }
    }
  });
  return app;
}
