import { Hono } from 'hono';
import type { StateValue } from 'xstate';
import type { Conveyor } from '../../actors/index.ts';
import { activeStateIds, renderChartSvg, type ChartableMachine } from '../chart/index.ts';
import { HttpError } from '../http-error.ts';

const svgHeaders = { 'content-type': 'image/svg+xml; charset=utf-8', 'cache-control': 'no-store' };

/** Statecharts drawn by conveyor itself (SPEC R33): every machine's, and the task machine at a task's current state. */
export function chartsApi(conveyor: Conveyor, machines: Record<string, ChartableMachine>) {
  const app = new Hono();

  app.get('/machines/:id/chart.svg', (c) => {
    const id = c.req.param('id');
    const machine = Object.hasOwn(machines, id) ? machines[id] : undefined;
    if (!machine) throw new HttpError('not_found', `machine ${id} does not exist`, 'id');
    return c.body(renderChartSvg(machine, { title: `machine ${id}` }), 200, svgHeaders);
  });

  app.get('/tasks/:id/chart.svg', (c) => {
    const id = c.req.param('id');
    const view = conveyor.task(id);
    const snapshot = conveyor.record(id)?.snapshot as { value?: StateValue } | undefined;
    if (!view || snapshot?.value === undefined) throw new HttpError('not_found', `task ${id} does not exist`, 'id');
    const machine = conveyor.runtime.machine;
    const svg = renderChartSvg(machine, { active: activeStateIds(machine, snapshot.value), title: `${view.id} · ${view.title} — ${view.state}` });
    return c.body(svg, 200, svgHeaders);
  });

  return app;
}
