import { Hono, type Context } from 'hono';
import type { StateValue } from 'xstate';
import type { Conveyor, ReplayedEntry } from '../../actors/index.ts';
import { describeState } from '../../machines/index.ts';
import { activeStateIds, renderChartSvg } from '../chart/index.ts';
import { HttpError } from '../http-error.ts';
import { pageQuery, paginate } from './page.ts';

const svgHeaders = { 'content-type': 'image/svg+xml; charset=utf-8', 'cache-control': 'no-store' };

type Snapshot = { value: StateValue; status: string };

/**
 * Time travel (/api/tasks/:id/at/:n, /replay): a task as it stood after any entry of its history, folded
 * from its creation with the chart's pure transition, with the guards that decided each step.
 */
export function timeTravelApi(conveyor: Conveyor) {
  const app = new Hono();

  /** The task's history folded up to `to` entries; a 404 for an unknown task, a 409 for a history this chart cannot fold. */
  const replay = (id: string, to?: number): ReplayedEntry[] => {
    if (!conveyor.record(id)) throw new HttpError('not_found', `task ${id} does not exist`, 'id');
    try {
      return conveyor.replay(id, to)!;
    } catch (e) {
      throw new HttpError('conflict', `task ${id}: its history cannot be folded with this build's task chart: ${(e as Error).message}`, 'id');
    }
  };

  /** The n of the path, from 1 to the history's length, or a 422 naming it. */
  const stepOf = (c: Context, id: string): number => {
    const raw = c.req.param('n') ?? '';
    const of = conveyor.history(id).length;
    const n = /^[1-9][0-9]{0,8}$/.test(raw) ? Number(raw) : NaN;
    if (!(n <= of)) throw new HttpError('invalid_payload', `n must be a whole number from 1 to ${of}, the entries of task ${id}'s history; got ${JSON.stringify(raw)}`, 'n');
    return n;
  };

  const at = (c: Context) => {
    const id = c.req.param('id')!;
    if (!conveyor.record(id)) throw new HttpError('not_found', `task ${id} does not exist`, 'id');
    const n = stepOf(c, id);
    return { id, n, of: conveyor.history(id).length, step: replay(id, n).at(-1)! };
  };

  app.get('/:id/at/:n', (c) => {
    const { id, n, of, step } = at(c);
    const snapshot = step.snapshot as Snapshot;
    return c.json({ taskId: id, n, of, entry: step.entry, state: describeState(snapshot.value), status: snapshot.status, snapshot, guards: step.guards });
  });

  app.get('/:id/at/:n/chart.svg', (c) => {
    const { id, n, of, step } = at(c);
    const machine = conveyor.runtime.machine;
    const { value } = step.snapshot as Snapshot;
    const title = `${id} · step ${n} of ${of}: ${step.entry.event.type} → ${describeState(value)}`;
    return c.body(renderChartSvg(machine, { active: activeStateIds(machine, value), title }), 200, svgHeaders);
  });

  app.get('/:id/replay', (c) => {
    const id = c.req.param('id');
    const rawTo = c.req.query('to');
    if (rawTo !== undefined && !/^[1-9][0-9]{0,8}$/.test(rawTo)) throw new HttpError('invalid_payload', `to must be a whole number from 1; got ${JSON.stringify(rawTo)}`, 'to');
    const steps = replay(id, rawTo === undefined ? undefined : Number(rawTo)).map((s) => ({
      n: s.n, at: s.entry.at, source: s.entry.source, event: s.entry.event, accepted: s.entry.accepted,
      ...(s.entry.reason !== undefined ? { reason: s.entry.reason } : {}),
      from: s.entry.from, to: describeState((s.snapshot as Snapshot).value), moved: s.step, guards: s.guards,
    }));
    const page = paginate(steps, (s) => [s.n], 'asc', pageQuery(c));
    return c.json({ steps: page.items, next: page.next });
  });

  return app;
}
