import { Hono } from 'hono';
import type { Conveyor } from '../../actors/index.ts';
import { HttpError } from '../http-error.ts';

/** /api/background: the background loops' figures, and the operator's switch for each (SPEC R19). */
export function backgroundApi(conveyor: Conveyor) {
  const app = new Hono();
  const control = () => {
    const background = conveyor.background();
    if (!background) throw new HttpError('unavailable', 'the background actors are not running in this process');
    return background;
  };

  app.get('/', (c) => c.json({ background: control().status() }));

  app.post('/:name/:action{enable|disable}', (c) => {
    const name = c.req.param('name');
    const result = control().setEnabled(name, c.req.param('action') === 'enable');
    if (!result.ok) throw new HttpError('not_found', result.message, 'name');
    return c.json({ background: result });
  });
  return app;
}
