import type { ChartEdge } from './chart-model.ts';
import { HEADER, childToward, isAncestor, type Box, type Boxes } from './boxes.ts';
import type { Layout } from './layout.ts';
import type { End, Route } from './route-plan.ts';

/** An x, y pair. */
export type Point = [number, number];

/** An edge ready to draw: its polyline (arrowhead at the last point), label and colour. */
export interface DrawnEdge {
  edge: ChartEdge;
  points: Point[];
  label: { x: number; y: number; anchor: 'start' | 'middle' | 'end'; text: string };
  color: string;
}

/** Colours of the root's children, in order; an edge into (or back from) one of them wears its colour. */
const PALETTE = ['#2b6cb0', '#6b46c1', '#c05621', '#c53030', '#2f855a', '#718096', '#b83280', '#0987a0'];
const INNER = '#2d3748';
const FORWARD = '#2b6cb0';
const BACKWARD = '#b7791f';

function colorOf(boxes: Boxes, s: Box, t: Box): string {
  const root = boxes.root;
  const top = (b: Box) => (b === root ? root : childToward(root, b));
  const [ts, tt] = [top(s), top(t)];
  if (ts === tt && ts !== root) {
    const main = boxes.main;
    if (main && ts === main && s !== main && t !== main) {
      const [a, b] = [main.children.indexOf(childToward(main, s)), main.children.indexOf(childToward(main, t))];
      // Between stages: onward in blue, back (a rollback or a re-entry) in amber.
      if (b > a) return FORWARD;
      if (b < a || isAncestor(t, s)) return BACKWARD;
    }
    return INNER;
  }
  const branch = tt !== root && tt !== boxes.main ? tt : ts;
  return PALETTE[root.children.indexOf(branch) % PALETTE.length] ?? INNER;
}

const endY = (e: End) => (e.lane ? e.lane.y : e.port.y);

function labelNear(x: number, y: number, towardsRight: boolean, text: string, gap = 6): DrawnEdge['label'] {
  return { x: towardsRight ? x + gap : x - gap, y: y - 3, anchor: towardsRight ? 'start' : 'end', text };
}

/** Where a line from the centre of `b` towards `toward` leaves the box. */
function clip(b: Box, toward: Point): Point {
  const [cx, cy] = [b.x + b.w / 2, b.y + b.h / 2];
  const [dx, dy] = [toward[0] - cx, toward[1] - cy];
  const t = Math.min(dx === 0 ? Infinity : b.w / 2 / Math.abs(dx), dy === 0 ? Infinity : b.h / 2 / Math.abs(dy));
  return [cx + dx * t, cy + dy * t];
}

function straight(s: Box, t: Box, reverse: boolean, text: string): Pick<DrawnEdge, 'points' | 'label'> {
  if (isAncestor(s, t) || isAncestor(t, s)) {
    // Into a state from its own container (or back out): a short arrow above the inner state.
    const inner = isAncestor(s, t) ? t : s;
    const x = inner.x + inner.w / 2;
    const points: Point[] = isAncestor(s, t) ? [[x, inner.y - 18], [x, inner.y]] : [[x, inner.y], [x, inner.y - 18]];
    return { points, label: { x: x + 4, y: inner.y - 8, anchor: 'start', text } };
  }
  const sc: Point = [s.x + s.w / 2, s.y + s.h / 2];
  const tc: Point = [t.x + t.w / 2, t.y + t.h / 2];
  const len = Math.hypot(tc[0] - sc[0], tc[1] - sc[1]) || 1;
  // The right-hand normal: two edges between the same boxes, one each way, are drawn side by side,
  // and every label sits off its line on that side.
  const [nx, ny] = [(tc[1] - sc[1]) / len, -(tc[0] - sc[0]) / len];
  const off = reverse ? 4 : 0;
  const a = clip(s, tc);
  const b = clip(t, sc);
  const points: Point[] = [[a[0] + nx * off, a[1] + ny * off], [b[0] + nx * off, b[1] + ny * off]];
  const [mx, my] = [(a[0] + b[0]) / 2 + nx * (off + 4), (a[1] + b[1]) / 2 + ny * (off + 4)];
  if (Math.abs(nx) > Math.abs(ny)) return { points, label: { x: mx, y: my + 4, anchor: nx > 0 ? 'start' : 'end', text } };
  return { points, label: { x: mx, y: ny > 0 ? my + 9 : my - 2, anchor: 'middle', text } };
}

function geometry(r: Route, boxes: Boxes, reverse: boolean): Pick<DrawnEdge, 'points' | 'label'> {
  switch (r.kind) {
    case 'row': {
      const { from: s, to: t, lane } = r;
      const points: Point[] = [[s.x, s.y], [s.x, lane.y], [t.x, lane.y], [t.x, t.y]];
      return { points, label: labelNear(s.x, lane.y, lane.label?.rightwards ?? t.x >= s.x, r.label, 5) };
    }
    case 'via': {
      const { from: f, to: t, bus } = r;
      const points: Point[] = [[f.port.x, f.port.y]];
      if (f.lane) points.push([f.port.x, f.lane.y]);
      points.push([bus.x, endY(f)], [bus.x, endY(t)]);
      if (t.lane) points.push([t.port.x, t.lane.y]);
      points.push([t.port.x, t.port.y]);
      if (r.labelAt === 'from') {
        const rightwards = f.lane?.label?.rightwards ?? bus.x > f.port.x;
        return { points, label: labelNear(f.port.x, endY(f), rightwards, r.label, f.lane ? 5 : 6) };
      }
      const stage = t.lane ? t.lane.box : t.port.box;
      const border = bus.x > t.port.x ? stage.x + stage.w : stage.x;
      return { points, label: labelNear(border, endY(t), bus.x > t.port.x, r.label) };
    }
    case 'stub': {
      const root = boxes.root;
      const t = r.to;
      const x0 = t.side === 'right' ? root.x + root.w - 4 : root.x + 4;
      return { points: [[x0, t.y], [t.x, t.y]], label: labelNear(t.x, t.y, t.side === 'right', r.label) };
    }
    case 'drop': {
      const t = r.to;
      const top = r.from.y + HEADER + r.from.lead;
      const fits = t.x + 5 + r.labelW < r.from.x + r.from.w - 4;
      return { points: [[t.x, r.from.y], [t.x, t.y]], label: { x: fits ? t.x + 5 : t.x - 5, y: top - 3, anchor: fits ? 'start' : 'end', text: r.label } };
    }
    case 'straight':
      return straight(boxes.of.get(r.edge.source.id)!, boxes.of.get(r.edge.target.id)!, reverse, r.label);
    default: {
      const never: never = r;
      throw new Error(`chart: unknown route ${JSON.stringify(never)}`);
    }
  }
}

/** Every routed edge of a layout as polylines. */
export function drawEdges(layout: Layout): DrawnEdge[] {
  const { boxes, plan } = layout;
  const keys = new Set(plan.routes.map((r) => `${r.edge.source.id}->${r.edge.target.id}`));
  return plan.routes.map((r) => {
    const s = boxes.of.get(r.edge.source.id)!;
    const t = boxes.of.get(r.edge.target.id)!;
    const reverse = keys.has(`${t.node.id}->${s.node.id}`);
    return { edge: r.edge, color: colorOf(boxes, s, t), ...geometry(r, boxes, reverse) };
  });
}
