import { Hono } from 'hono';
import { z } from 'zod';
import { alertStatuses, type Conveyor } from '../../actors/index.ts';
import { HttpError } from '../http-error.ts';
import { jsonBody } from '../json-body.ts';
import { oneOf, pagedJson } from './page.ts';

/** The body of POST /api/alerts/:id/ack. */
export const ackBody = z.strictObject({ by: z.string().trim().min(1).max(200).optional(), note: z.string().max(2000).optional() });

/** /api/alerts: what went wrong and what to do about it, newest first; operators acknowledge them. */
export function alertsApi(conveyor: Conveyor) {
  const app = new Hono();

  app.get('/', (c) => {
    const status = oneOf(c, 'status', alertStatuses);
    const list = conveyor.alertBoard.list({ kind: c.req.query('kind'), taskId: c.req.query('task'), status });
    return pagedJson(c, 'alerts', list, (a) => [a.at, a.id], 'desc');
  });

  app.get('/:id', (c) => {
    const alert = conveyor.alertBoard.get(c.req.param('id'));
    if (!alert) throw new HttpError('not_found', `alert ${c.req.param('id')} does not exist`, 'id');
    return c.json({ alert });
  });

  app.post('/:id/ack', async (c) => {
    const body = await jsonBody(c, ackBody);
    const result = await conveyor.alertBoard.ack(c.req.param('id'), body.by ?? 'operator', body.note);
    if (result.ok) return c.json({ alert: result.alert });
    if (result.code === 'not_found') throw new HttpError('not_found', result.message, 'id');
    throw new HttpError('conflict', result.message, 'id', { alert: result.alert });
  });
  return app;
}
