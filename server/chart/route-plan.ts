import type { ChartEdge } from './chart-model.ts';
import { LABEL_FONT, childToward, columnsApart, isAncestor, strictCommonAncestor, type Box, type Boxes } from './boxes.ts';
import { textWidth } from './text.ts';

/** A side of a box. */
export type Side = 'top' | 'bottom' | 'left' | 'right';

/** Where edges meet a box; edges bundled into one bus share their port at the bundled end. */
export interface Port {
  box: Box;
  side: Side;
  key: string;
  /** Orders ports along a top or bottom side: negative goes left, positive right, bigger is farther. */
  hint: number;
  /** Boxes at the other end; they order ports along a left or right side. */
  far: Box[];
  /** Offset along a top or bottom side (once the box's width is final). */
  rel: number | null;
  x: number;
  y: number;
}

/** A horizontal lane in the band above or below a row's children. */
export interface Lane {
  box: Box;
  band: 'above' | 'below';
  ends: Port[];
  /** The lane runs out to this border of the box. */
  toBorder: 'left' | 'right' | null;
  /** The edge label written on this lane, next to this port. */
  label: { port: Port; width: number; rightwards?: boolean } | null;
  lo: number;
  hi: number;
  level: number;
  y: number;
}

/** A vertical lane: in a column's side margin, in the gap of a split chart, or in a right margin. */
export interface Bus {
  owner: Box;
  where: 'left' | 'right' | 'gap' | 'margin';
  key: string;
  lo: number;
  hi: number;
  level: number;
  x: number;
  /** Index-based extent in a column, known before anything is measured. */
  spans: number[];
}

/** One end of a routed edge: a port, reached through a lane when the state is nested in a row. */
export interface End {
  port: Port;
  lane: Lane | null;
}

/** How one edge runs: within a row, via a vertical lane, as a stub or a drop from the chart's border, or straight. */
export type Route =
  | { kind: 'row'; edge: ChartEdge; label: string; labelW: number; lane: Lane; from: Port; to: Port }
  | { kind: 'via'; edge: ChartEdge; label: string; labelW: number; from: End; bus: Bus; to: End; labelAt: 'from' | 'to' }
  | { kind: 'stub'; edge: ChartEdge; label: string; labelW: number; to: Port }
  | { kind: 'drop'; edge: ChartEdge; label: string; labelW: number; from: Box; to: Port }
  | { kind: 'straight'; edge: ChartEdge; label: string; labelW: number };

/** Every edge's route and the ports, lanes and buses they share. */
export interface Plan {
  routes: Route[];
  ports: Map<string, Port>;
  lanes: Lane[];
  buses: Map<string, Bus>;
}

const FAR = 1000;

/** Decides for every edge which channels it runs in; the geometry comes later, from the layout. */
export function planRoutes(edges: ChartEdge[], boxes: Boxes): Plan {
  const plan: Plan = { routes: [], ports: new Map(), lanes: [], buses: new Map() };

  const port = (box: Box, side: Side, key: string, far: Box, hint: number): Port => {
    const id = `${box.node.id}|${side}|${key}`;
    let p = plan.ports.get(id);
    if (!p) plan.ports.set(id, (p = { box, side, key: id, hint, far: [], rel: null, x: 0, y: 0 }));
    p.far.push(far);
    return p;
  };
  const lane = (box: Box, band: Lane['band'], ends: Port[], toBorder: Lane['toBorder']): Lane => {
    const l: Lane = { box, band, ends, toBorder, label: null, lo: 0, hi: 0, level: 0, y: 0 };
    plan.lanes.push(l);
    return l;
  };
  const bus = (owner: Box, where: Bus['where'], key: string): Bus => {
    const id = `${owner.node.id}|${where}|${key}`;
    let b = plan.buses.get(id);
    if (!b) plan.buses.set(id, (b = { owner, where, key: id, lo: 0, hi: 0, level: 0, x: 0, spans: [] }));
    return b;
  };

  /** Leaves `column` (or the stage of it that holds `s`) sideways; from deep inside a row, down to its lower band. */
  const exitVia = (s: Box, column: Box, side: 'left' | 'right', key: string, far: Box): End => {
    const out = side === 'right' ? FAR : -FAR;
    if (s === column) return { port: port(s, side, key, far, out), lane: null };
    const stage = childToward(column, s);
    if (s === stage || stage.role !== 'row') return { port: port(s, side, key, far, out), lane: null };
    const p = port(s, 'bottom', key, far, out);
    return { port: p, lane: lane(stage, 'below', [p], side) };
  };
  /** Enters `column` (or one of its stages) from the side; deep inside a row, through its upper band. */
  const entryVia = (t: Box, column: Box, side: 'left' | 'right', busKey: string, far: Box): End => {
    const from = side === 'right' ? FAR : -FAR;
    if (t === column) return { port: port(t, side, busKey, far, from), lane: null };
    const stage = childToward(column, t);
    if (t === stage || stage.role !== 'row') return { port: port(t, side, busKey, far, from), lane: null };
    const p = port(t, 'top', busKey, far, from);
    const shared = plan.lanes.find((l) => l.box === stage && l.band === 'above' && l.ends[0] === p);
    return { port: p, lane: shared ?? lane(stage, 'above', [p], side) };
  };

  for (const edge of edges) {
    const s = boxes.of.get(edge.source.id)!;
    const t = boxes.of.get(edge.target.id)!;
    const label = edge.events.join(', ');
    const base = { edge, label, labelW: textWidth(label, LABEL_FONT) };
    const c = strictCommonAncestor(s, t);
    if (!c && s === boxes.root && s.role === 'row') {
      // A transition of the whole machine drawn as a row: straight down from the chart's top border.
      plan.routes.push({ kind: 'drop', ...base, from: s, to: port(t, 'top', edge.id, s, 0) });
      continue;
    }
    if (!c) {
      // A transition of the whole machine: a short arrow from the chart's border, on the side the state faces.
      const side = boxes.main && (t === boxes.main || isAncestor(boxes.main, t)) ? 'left' : 'right';
      plan.routes.push(s === boxes.root && boxes.main ? { kind: 'stub', ...base, to: port(t, side, edge.id, s, 0) } : { kind: 'straight', ...base });
      continue;
    }
    const bs = childToward(c, s);
    const bt = childToward(c, t);
    if (c.role === 'row') {
      const apart = columnsApart(s, t);
      const above = apart > 0 || (apart === 0 && s === bs);
      const from = port(s, above ? 'top' : 'bottom', edge.id, t, apart);
      const to = port(t, above ? 'top' : 'bottom', edge.id, s, -apart);
      const l = lane(c, above ? 'above' : 'below', [from, to], null);
      l.label = { port: from, width: base.labelW };
      plan.routes.push({ kind: 'row', ...base, lane: l, from, to });
    } else if (c.role === 'column' && bs.role !== 'history' && bt.role !== 'history') {
      const i = c.children.indexOf(bs);
      const j = c.children.indexOf(bt);
      const side = j < i ? 'left' : 'right';
      const b = bus(c, side, `to:${bt.node.id}`);
      const from = exitVia(s, c, side, edge.id, t);
      const to = entryVia(t, c, side, b.key, s);
      b.spans.push(i + (from.lane ? 0.8 : 0.3), j + (to.lane ? 0.5 : 0.3));
      if (from.lane) from.lane.label = { port: from.port, width: base.labelW };
      plan.routes.push({ kind: 'via', ...base, from, bus: b, to, labelAt: 'from' });
    } else if (c.role === 'split' && (bs === boxes.main) !== (bt === boxes.main)) {
      const main = boxes.main!;
      if (bs === main) {
        const b = bus(c, 'gap', `to:${t.node.id}`);
        const from = exitVia(s, main, 'right', edge.id, t);
        if (from.lane) from.lane.label = { port: from.port, width: base.labelW };
        plan.routes.push({ kind: 'via', ...base, from, bus: b, to: { port: port(t, 'left', b.key, s, 0), lane: null }, labelAt: 'from' });
      } else {
        const b = bus(c, 'gap', `from:${s.node.id}`);
        const to = entryVia(t, main, 'right', `${b.key}|${edge.id}`, s);
        plan.routes.push({ kind: 'via', ...base, from: { port: port(s, 'left', b.key, t, 0), lane: null }, bus: b, to, labelAt: 'to' });
      }
    } else if (c.role === 'split' || c.role === 'stack') {
      const b = bus(c, 'margin', `to:${t.node.id}`);
      const from = { port: port(s, 'right', edge.id, t, 0), lane: null };
      plan.routes.push({ kind: 'via', ...base, from, bus: b, to: { port: port(t, 'right', b.key, s, 0), lane: null }, labelAt: 'from' });
    } else {
      plan.routes.push({ kind: 'straight', ...base });
    }
  }
  return plan;
}
