import { HEADER, LANE, PAD, type Box, type Boxes } from './boxes.ts';
import { assignLevels } from './levels.ts';
import type { Bus, Lane, Plan, Port } from './route-plan.ts';

/** Sets absolute positions from the offsets measuring gave. */
export function place(box: Box, x: number, y: number): void {
  box.x = x;
  box.y = y;
  for (const c of box.children) place(c, x + c.rx, y + c.ry);
}

const centerY = (b: Box) => b.y + b.h / 2;

/** Side ports go where edges can reach them: a row's upper part (lanes leave from its lower band), a leaf's full height. */
function sideRegion(box: Box): [number, number] {
  if (box.role === 'row') return [box.y + 4, box.y + HEADER + box.lead + box.above + box.contentH / 2];
  if (box.role === 'leaf' || box.role === 'history') return [box.y, box.y + box.h];
  if (box.role === 'column') return [box.y, box.y + 12];
  return [box.y, box.y + HEADER + box.lead];
}

/** Gives every port its coordinates: along top and bottom sides by hint, along left and right sides by the far ends' heights. */
export function placePorts(plan: Plan, portsOf: Map<Box, Port[]>, spreadTopBottom: (box: Box) => void): void {
  for (const [box, ports] of portsOf) {
    spreadTopBottom(box);
    for (const p of ports) {
      if (p.side === 'top' || p.side === 'bottom') [p.x, p.y] = [box.x + p.rel!, p.side === 'top' ? box.y : box.y + box.h];
    }
    const [r0, r1] = sideRegion(box);
    for (const side of ['left', 'right'] as const) {
      const mean = (p: Port) => p.far.reduce((a, f) => a + centerY(f), 0) / p.far.length;
      const list = ports.filter((p) => p.side === side).sort((a, b) => mean(a) - mean(b));
      list.forEach((p, i) => [p.x, p.y] = [side === 'left' ? box.x : box.x + box.w, r0 + ((r1 - r0) * (i + 1)) / (list.length + 1)]);
    }
  }
}

/** Gives every horizontal lane its height inside its band. */
export function placeLanes(plan: Plan): void {
  for (const l of plan.lanes) {
    const b = l.box;
    const bandTop = b.y + HEADER + b.lead;
    l.y = l.band === 'above' ? bandTop + b.above - 6 - LANE * l.level : bandTop + b.above + b.contentH + LANE * (l.level + 1);
  }
}

const endY = (e: { port: Port; lane: Lane | null }) => (e.lane ? e.lane.y : e.port.y);

/** Sizes the gap between the pipeline and the right-hand column, moves that column there, and sizes the right margin. */
export function placeSplit(boxes: Boxes, plan: Plan, busesOf: Map<Box, Bus[]>, replacePorts: () => void): number {
  const root = boxes.root;
  const main = boxes.main!;
  const via = plan.routes.filter((r) => r.kind === 'via');
  const gapRoutes = via.filter((r) => r.bus.where === 'gap');
  for (const b of busesOf.get(root) ?? []) [b.lo, b.hi] = [Infinity, -Infinity];
  for (const r of via.filter((r) => r.bus.owner === root)) {
    r.bus.lo = Math.min(r.bus.lo, endY(r.from), endY(r.to));
    r.bus.hi = Math.max(r.bus.hi, endY(r.from), endY(r.to));
  }
  const gapBuses = (busesOf.get(root) ?? []).filter((b) => b.where === 'gap');
  const gapLevels = assignLevels(gapBuses, (b) => b.hi - b.lo);
  // Labels written next to the pipeline's right border must end before the first bus.
  const mainRight = main.x + main.w;
  const stageRight = mainRight - main.padR;
  const room = Math.max(PAD, ...gapRoutes.filter((r) => r.labelAt === 'to' || !r.from.lane).map((r) => stageRight + 6 + r.labelW + 8 - mainRight));
  const busBase = mainRight + room;
  for (const b of gapBuses) b.x = busBase + b.level * LANE;
  const sideX = busBase + gapLevels * LANE + 2 * PAD;
  for (const c of root.children) {
    if (c === main) continue;
    c.rx = sideX - root.x;
    place(c, sideX, c.y);
  }
  replacePorts();
  const sideRight = Math.max(...root.children.filter((c) => c !== main).map((c) => c.x + c.w));
  const marginBuses = (busesOf.get(root) ?? []).filter((b) => b.where === 'margin');
  const marginLevels = assignLevels(marginBuses, (b) => b.hi - b.lo);
  const marginRoutes = via.filter((r) => r.bus.where === 'margin' && r.bus.owner === root);
  const laneBase = Math.max(sideRight + PAD, ...marginRoutes.map((r) => r.from.port.x + r.labelW + 14));
  for (const b of marginBuses) b.x = laneBase + b.level * LANE;
  const stubs = plan.routes.filter((r) => r.kind === 'stub' && r.to.side === 'right');
  const stubRoom = Math.max(0, ...stubs.map((r) => (r.kind === 'stub' ? r.to.x + r.labelW + 16 : 0)));
  root.w = Math.max(laneBase + marginLevels * LANE, stubRoom) + PAD - root.x;
  return root.w;
}

/** Puts the vertical lanes of stacked states in their right margins. */
export function placeStackBuses(box: Box, busesOf: Map<Box, Bus[]>): void {
  if (box.role === 'stack') for (const b of busesOf.get(box) ?? []) b.x = box.x + box.w - PAD - (b.level + 0.5) * LANE;
  for (const c of box.children) placeStackBuses(c, busesOf);
}

/** Puts the vertical lanes of the pipeline column in its left and right margins. */
export function placeColumnBuses(plan: Plan): void {
  for (const b of plan.buses.values()) {
    const o = b.owner;
    if (b.where === 'left') b.x = o.x + o.padL - 8 - b.level * LANE;
    if (b.where === 'right') b.x = o.x + o.w - o.padR + 8 + b.level * LANE;
  }
}
