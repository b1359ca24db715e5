import type { ChartModel } from './chart-model.ts';
import { ATOM_H, FONT, GAP, HEADER, LANE, PAD, PORT_GAP, VGAP, buildBoxes, childToward, relX, type Box, type Boxes } from './boxes.ts';
import { assignLevels } from './levels.ts';
import { place, placeColumnBuses, placeLanes, placePorts, placeSplit, placeStackBuses } from './place.ts';
import { planRoutes, type Bus, type Lane, type Plan, type Port } from './route-plan.ts';
import { textWidth } from './text.ts';

/** A laid-out chart: every box placed, every port, lane and bus given its coordinates. */
export interface Layout {
  boxes: Boxes;
  plan: Plan;
  width: number;
  height: number;
}

const GRID_GX = 110;
const GRID_GY = 56;
const MIN_W = 64;
/** Least distance between two vertical legs crossing the same border. */
const PORT_CLEAR = 8;

/** Ports along a top or bottom side: those going left first, nearest leftmost; then those going right, farthest leftmost. */
function byHint(a: Port, b: Port): number {
  const group = (h: number) => (h < 0 ? 0 : h === 0 ? 1 : 2);
  const ga = group(a.hint);
  const gb = group(b.hint);
  if (ga !== gb) return ga - gb;
  return b.hint - a.hint;
}

const labelWidth = (box: Box) => textWidth(box.node.key, FONT, true) + 2 * PAD + (box.node.initial ? 10 : 0);

/** Lays out a machine's chart: nested boxes, then the lanes its edges run in. */
export function layoutChart(model: ChartModel): Layout {
  const boxes = buildBoxes(model);
  const plan = planRoutes(model.edges, boxes);
  const portsOf = new Map<Box, Port[]>();
  for (const p of plan.ports.values()) portsOf.set(p.box, [...(portsOf.get(p.box) ?? []), p]);
  const lanesOf = new Map<Box, Lane[]>();
  for (const l of plan.lanes) lanesOf.set(l.box, [...(lanesOf.get(l.box) ?? []), l]);
  const busesOf = new Map<Box, Bus[]>();
  for (const b of plan.buses.values()) busesOf.set(b.owner, [...(busesOf.get(b.owner) ?? []), b]);
  const on = (box: Box, side: Port['side']) => (portsOf.get(box) ?? []).filter((p) => p.side === side);
  const sidePorts = (box: Box) => Math.max(on(box, 'left').length, on(box, 'right').length);

  /**
   * Spreads a box's top and bottom ports along it, clear of the legs of its descendants' ports, which
   * cross its border too (so they are spread first).
   */
  const spreadTopBottom = (box: Box) => {
    const taken: Record<'top' | 'bottom', number[]> = { top: [], bottom: [] };
    const visit = (d: Box) => {
      for (const c of d.children) {
        for (const p of on(c, 'top').concat(on(c, 'bottom'))) {
          if (p.rel === null) spreadTopBottom(c);
          taken[p.side as 'top' | 'bottom'].push(relX(c, box) + p.rel!);
        }
        visit(c);
      }
    };
    visit(box);
    const start = 6;
    const end = box.w - 6;
    for (const side of ['top', 'bottom'] as const) {
      const ports = on(box, side).sort(byHint);
      ports.forEach((p, i) => {
        const ideal = start + ((end - start) * (i + 1)) / (ports.length + 1);
        const free = (x: number) => x >= 4 && x <= box.w - 4 && taken[side].every((t) => Math.abs(t - x) >= PORT_CLEAR);
        let x = ideal;
        for (let d = 0; d < box.w && !free(x); d++) x = free(ideal + d) ? ideal + d : ideal - d;
        p.rel = free(x) ? x : ideal;
        taken[side].push(p.rel);
      });
    }
  };

  const measureRow = (box: Box) => {
    // Neighbours move apart until the label of an edge between them fits between their middles.
    const gaps = box.children.map(() => GAP);
    for (const r of plan.routes) {
      if (r.kind !== 'row' || r.lane.box !== box) continue;
      const [a, b] = [r.from, r.to].map((p) => box.children.indexOf(childToward(box, p.box))) as [number, number];
      const [i, j] = [Math.min(a, b), Math.max(a, b)];
      if (j - i !== 1) continue;
      const halves = (box.children[i]!.w + box.children[j]!.w) / 2;
      gaps[i] = Math.max(gaps[i]!, r.labelW + 16 - halves);
    }
    let x = PAD;
    box.children.forEach((c, i) => {
      c.rx = x;
      x += c.w + gaps[i]!;
    });
    box.w = Math.max(x - GAP + PAD, labelWidth(box), MIN_W);
    const lanes = lanesOf.get(box) ?? [];
    for (const l of lanes) {
      const xs = l.ends.map((p) => {
        if (p.rel === null) spreadTopBottom(p.box);
        return relX(p.box, box) + p.rel!;
      });
      l.lo = l.toBorder === 'left' ? -Infinity : Math.min(...xs);
      l.hi = l.toBorder === 'right' ? Infinity : Math.max(...xs);
      if (l.label) {
        const at = relX(l.label.port.box, box) + l.label.port.rel!;
        const other = l.toBorder ? null : xs.find((x) => x !== at) ?? at;
        // A label goes along the lane from its source; where it would cross the target's leg it turns to the
        // other side of the source's leg, and where it would stick out of the box on the left it goes right.
        let rightwards = l.toBorder ? l.toBorder === 'right' : other! > at;
        if (other !== null && Math.abs(other - at) < l.label.width + 12) rightwards = !rightwards;
        l.label.rightwards = rightwards || at - 6 - l.label.width < 0;
        if (l.label.rightwards) {
          l.hi = Math.max(l.hi, at + 6 + l.label.width);
          box.w = Math.max(box.w, at + 6 + l.label.width + PAD);
        } else l.lo = Math.min(l.lo, at - 6 - l.label.width);
      }
      if (Number.isFinite(l.hi)) box.w = Math.max(box.w, l.hi + PAD);
    }
    const span = (l: Lane) => Math.min(l.hi, box.w) - Math.max(l.lo, 0);
    const above = assignLevels(lanes.filter((l) => l.band === 'above'), span);
    const below = assignLevels(lanes.filter((l) => l.band === 'below'), span);
    box.above = above > 0 ? above * LANE + 4 : 8;
    box.below = below > 0 ? below * LANE + 4 : 0;
    box.contentH = Math.max(0, ...box.children.map((c) => c.h));
    const room = HEADER + box.above + box.contentH / 2;
    const drops = plan.routes.some((r) => r.kind === 'drop' && r.from === box);
    box.lead = Math.max(drops ? LANE : 0, (sidePorts(box) + 1) * PORT_GAP - room);
    box.h = HEADER + box.lead + box.above + box.contentH + box.below + PAD;
    for (const c of box.children) c.ry = HEADER + box.lead + box.above + (box.contentH - c.h) / 2;
  };

  const measureColumn = (box: Box) => {
    const stages = box.children.filter((c) => c.role !== 'history');
    const history = box.children.filter((c) => c.role === 'history');
    const buses = busesOf.get(box) ?? [];
    for (const b of buses) [b.lo, b.hi] = [Math.min(...b.spans), Math.max(...b.spans)];
    const span = (b: Bus) => b.hi - b.lo;
    box.padL = PAD + assignLevels(buses.filter((b) => b.where === 'left'), span) * LANE;
    box.padR = PAD + assignLevels(buses.filter((b) => b.where === 'right'), span) * LANE;
    box.lead = history.length > 0 ? 10 : 0;
    const inner = Math.max(labelWidth(box) + 40, ...stages.map((s) => s.w));
    let y = HEADER + box.lead;
    for (const s of stages) {
      s.w = inner;
      s.rx = box.padL;
      s.ry = y;
      y += s.h + VGAP;
    }
    box.w = box.padL + inner + box.padR;
    box.h = y - VGAP + PAD;
    for (const h of history) [h.rx, h.ry] = [box.w - box.padR - h.w, 8];
  };

  const measureStack = (box: Box) => {
    const buses = busesOf.get(box) ?? [];
    buses.forEach((b, i) => (b.level = i));
    const labels = plan.routes.filter((r) => r.kind === 'via' && r.bus.owner === box).map((r) => r.labelW);
    box.padR = buses.length > 0 ? PAD + Math.max(...labels) + 12 + buses.length * LANE : PAD;
    box.lead = Math.max(0, (sidePorts(box) + 1) * PORT_GAP - HEADER);
    const inner = Math.max(labelWidth(box), ...box.children.map((c) => c.w));
    let y = HEADER + box.lead;
    for (const c of box.children) {
      if (c.role !== 'history') c.w = inner;
      [c.rx, c.ry] = [PAD, y];
      y += c.h + VGAP / 2;
    }
    box.w = PAD + inner + box.padR;
    box.h = y - VGAP / 2 + PAD;
  };

  const measureGrid = (box: Box) => {
    const n = box.children.length;
    const inside = plan.routes.filter((r) => r.kind === 'straight' && box.children.some((c) => c.node.id === r.edge.source.id));
    const gx = inside.length > 0 ? Math.max(GRID_GX, ...inside.map((r) => r.labelW + 24)) : 2 * PAD;
    const gy = inside.length > 0 ? GRID_GY : 2 * PAD;
    const cols = Math.ceil(Math.sqrt(n));
    const colW: number[] = [];
    const rowH: number[] = [];
    box.children.forEach((c, i) => {
      colW[i % cols] = Math.max(colW[i % cols] ?? 0, c.w);
      rowH[Math.floor(i / cols)] = Math.max(rowH[Math.floor(i / cols)] ?? 0, c.h);
    });
    const colX = colW.map((_, i) => PAD + colW.slice(0, i).reduce((a, w) => a + w + gx, 0));
    const top = HEADER + (inside.length > 0 ? 24 : 0);
    const rowY = rowH.map((_, i) => top + rowH.slice(0, i).reduce((a, h) => a + h + gy, 0));
    box.children.forEach((c, i) => {
      const [col, row] = [i % cols, Math.floor(i / cols)];
      c.rx = colX[col]! + (colW[col]! - c.w) / 2;
      c.ry = rowY[row]! + (rowH[row]! - c.h) / 2;
    });
    box.w = Math.max(labelWidth(box), PAD * 2 + colW.reduce((a, w) => a + w, 0) + gx * (cols - 1));
    box.h = top + rowH.reduce((a, h) => a + h, 0) + gy * (rowH.length - 1) + PAD;
  };

  const measureSplit = (box: Box, main: Box) => {
    const side = box.children.filter((c) => c !== main);
    const inner = Math.max(...side.map((c) => c.w));
    [main.rx, main.ry] = [PAD, HEADER];
    const total = side.reduce((a, c) => a + c.h, 0);
    // The right-hand states are spread along the pipeline, so edges into them stay short.
    const gap = side.length > 1 ? Math.max(VGAP, (main.h - total) / (side.length - 1)) : 0;
    let y = HEADER;
    for (const c of side) {
      if (c.role !== 'history') c.w = inner;
      c.ry = y;
      y += c.h + gap;
    }
    box.h = HEADER + Math.max(main.h, total + VGAP * (side.length - 1)) + PAD;
  };

  const measure = (box: Box) => {
    box.children.forEach(measure);
    switch (box.role) {
      case 'leaf':
        // Measured bold: a highlighted state's label is.
        box.w = Math.max(MIN_W, textWidth(box.node.key, FONT, true) + 24 + (box.node.initial ? 10 : 0));
        box.h = Math.max(ATOM_H, sidePorts(box) * PORT_GAP + 10);
        break;
      case 'history':
        box.w = box.h = 20;
        break;
      case 'row':
        measureRow(box);
        break;
      case 'column':
        measureColumn(box);
        break;
      case 'stack':
        measureStack(box);
        break;
      case 'grid':
        measureGrid(box);
        break;
      case 'split':
        measureSplit(box, boxes.main!);
        break;
      default: {
        const never: never = box.role;
        throw new Error(`chart: unknown role ${String(never)}`);
      }
    }
  };

  measure(boxes.root);
  place(boxes.root, 0, 0);
  placePorts(plan, portsOf, spreadTopBottom);
  placeLanes(plan);
  const width = boxes.root.role === 'split' ? placeSplit(boxes, plan, busesOf, () => placePorts(plan, portsOf, spreadTopBottom)) : boxes.root.w;
  placeColumnBuses(plan);
  placeStackBuses(boxes.root, busesOf);
  return { boxes, plan, width, height: boxes.root.h };
}
