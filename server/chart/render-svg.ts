import { FONT, HEADER, LABEL_FONT, type Box } from './boxes.ts';
import { chartModel, type ChartableMachine, type ChartModel } from './chart-model.ts';
import { layoutChart, type Layout } from './layout.ts';
import { drawEdges, type DrawnEdge, type Point } from './route-draw.ts';
import { escapeXml } from './text.ts';

/** What to highlight and what to write above a chart. */
export interface ChartOptions {
  /** Ids of the states to highlight (see activeStateIds); the innermost ones most strongly. */
  active?: Iterable<string>;
  /** A caption above the chart. */
  title?: string;
}

const MARGIN = 16;
const CAPTION_H = 26;

const fmt = (n: number) => String(Math.round(n * 10) / 10);

/** A polyline with rounded corners. */
function pathOf(points: Point[]): string {
  const [first, ...rest] = points;
  if (!first) return '';
  let d = `M${fmt(first[0])},${fmt(first[1])}`;
  for (let i = 0; i < rest.length; i++) {
    const p = rest[i]!;
    const prev = points[i]!;
    const next = rest[i + 1];
    if (!next) {
      d += ` L${fmt(p[0])},${fmt(p[1])}`;
      continue;
    }
    const r = Math.min(5, Math.hypot(p[0] - prev[0], p[1] - prev[1]) / 2, Math.hypot(next[0] - p[0], next[1] - p[1]) / 2);
    const into = Math.hypot(p[0] - prev[0], p[1] - prev[1]) || 1;
    const out = Math.hypot(next[0] - p[0], next[1] - p[1]) || 1;
    const a: Point = [p[0] - ((p[0] - prev[0]) / into) * r, p[1] - ((p[1] - prev[1]) / into) * r];
    const b: Point = [p[0] + ((next[0] - p[0]) / out) * r, p[1] + ((next[1] - p[1]) / out) * r];
    d += ` L${fmt(a[0])},${fmt(a[1])} Q${fmt(p[0])},${fmt(p[1])} ${fmt(b[0])},${fmt(b[1])}`;
  }
  return d;
}

/** Active containers are tinted lighter the farther out they are, so the innermost state stands out. */
const ACTIVE_FILLS = ['#f6ad55', '#fde68a', '#fef3c7', '#fffbeb'];

function boxSvg(box: Box, active: Set<string>, innermost: Set<string>, innerDepth: number): string {
  const { node } = box;
  const on = active.has(node.id);
  const leaf = innermost.has(node.id);
  const cls = `cv-state${on ? ' cv-active' : ''}${leaf ? ' cv-active-leaf' : ''}`;
  const container = box.children.length > 0;
  const baseFill = container ? (node.depth % 2 === 1 ? '#f1f5f9' : '#ffffff') : '#ffffff';
  const fill = leaf ? ACTIVE_FILLS[0]! : on ? ACTIVE_FILLS[Math.min(3, Math.max(2, innerDepth - node.depth + 1))]! : baseFill;
  const stroke = leaf ? '#9c4221' : on ? '#d69e2e' : container ? '#a0aec0' : '#4a5568';
  const width = leaf ? 4 : on ? 2.5 : 1;
  const dash = node.region ? ' stroke-dasharray="6 4"' : '';
  const attrs = `class="${cls}" data-id="${escapeXml(node.id)}" data-active="${on}"`;
  const parts = [`<g ${attrs}>`, `<title>${escapeXml(node.id)}</title>`];
  const [x, y, w, h] = [fmt(box.x), fmt(box.y), fmt(box.w), fmt(box.h)];
  const weight = on ? ' font-weight="700"' : '';
  if (box.role === 'history') {
    const [cx, cy] = [fmt(box.x + box.w / 2), fmt(box.y + box.h / 2)];
    parts.push(`<circle cx="${cx}" cy="${cy}" r="${fmt(box.w / 2)}" fill="${fill}" stroke="${stroke}" stroke-width="${width}"/>`);
    parts.push(`<text x="${cx}" y="${fmt(box.y + box.h / 2 + 4)}" text-anchor="middle" font-size="${LABEL_FONT}"${weight}>${node.deepHistory ? 'H*' : 'H'}</text>`);
    parts.push(`<text x="${fmt(box.x - 4)}" y="${fmt(box.y + box.h / 2 + 4)}" text-anchor="end" font-size="${LABEL_FONT}" fill="#4a5568">${escapeXml(node.key)}</text>`);
    return [...parts, '</g>'].join('');
  }
  parts.push(`<rect x="${x}" y="${y}" width="${w}" height="${h}" rx="${container ? 8 : 6}" fill="${fill}" stroke="${stroke}" stroke-width="${width}"${dash}/>`);
  if (node.kind === 'final') {
    parts.push(`<rect x="${fmt(box.x + 3)}" y="${fmt(box.y + 3)}" width="${fmt(box.w - 6)}" height="${fmt(box.h - 6)}" rx="4" fill="none" stroke="${stroke}"/>`);
  }
  const dot = node.initial ? 10 : 0;
  const ty = container ? box.y + HEADER / 2 + 4 + 1 : box.y + box.h / 2 + 4;
  if (node.initial) parts.push(`<circle cx="${fmt(box.x + 9)}" cy="${fmt(ty - 4)}" r="3" fill="#2d3748"><title>initial state</title></circle>`);
  const label = escapeXml(node.key);
  if (container) parts.push(`<text x="${fmt(box.x + 8 + dot)}" y="${fmt(ty)}" font-size="${FONT}" font-weight="700">${label}</text>`);
  else parts.push(`<text x="${fmt(box.x + (box.w + dot) / 2)}" y="${fmt(ty)}" text-anchor="middle" font-size="${FONT}"${weight}>${label}</text>`);
  return [...parts, '</g>'].join('');
}

function edgeSvg(e: DrawnEdge, marker: string): string {
  const { edge, label } = e;
  const attrs = `class="cv-edge" data-source="${escapeXml(edge.source.id)}" data-target="${escapeXml(edge.target.id)}" data-events="${escapeXml(edge.events.join(' '))}"`;
  return (
    `<g ${attrs}><title>${escapeXml(`${edge.source.id} → ${edge.target.id}: ${edge.events.join(', ')}`)}</title>` +
    `<path d="${pathOf(e.points)}" fill="none" stroke="${e.color}" stroke-width="1.3" stroke-linejoin="round" marker-end="url(#${marker})"/>` +
    `<text x="${fmt(label.x)}" y="${fmt(label.y)}" text-anchor="${label.anchor}" font-size="${LABEL_FONT}" fill="${e.color}" stroke="#ffffff" stroke-width="3" paint-order="stroke">${escapeXml(label.text)}</text></g>`
  );
}

// The layout depends on the machine only; a task's chart is the same drawing with other boxes lit.
const drawings = new WeakMap<object, { model: ChartModel; layout: Layout; edges: DrawnEdge[] }>();

function drawingOf(machine: ChartableMachine) {
  let drawing = drawings.get(machine.root);
  if (!drawing) {
    const model = chartModel(machine);
    const layout = layoutChart(model);
    drawings.set(machine.root, (drawing = { model, layout, edges: drawEdges(layout) }));
  }
  return drawing;
}

/** The machine's statechart as a standalone SVG document, with the given states highlighted. */
export function renderChartSvg(machine: ChartableMachine, options: ChartOptions = {}): string {
  const { model, layout, edges } = drawingOf(machine);
  const active = new Set([...(options.active ?? [])].filter((id) => model.byId.has(id)));
  const innermost = new Set([...active].filter((id) => !model.byId.get(id)!.children.some((c) => active.has(c.id))));
  const innerDepth = Math.max(0, ...[...innermost].map((id) => model.byId.get(id)!.depth));
  const colors = [...new Set(edges.map((e) => e.color))];
  const markerOf = (color: string) => `cv-arrow-${colors.indexOf(color)}`;
  const top = options.title ? CAPTION_H : 0;
  const width = Math.ceil(layout.width + 2 * MARGIN);
  const height = Math.ceil(layout.height + 2 * MARGIN + top);
  const boxes: string[] = [];
  const walk = (b: Box) => {
    boxes.push(boxSvg(b, active, innermost, innerDepth));
    b.children.forEach(walk);
  };
  walk(layout.boxes.root);
  const markers = colors.map(
    (c) => `<marker id="${markerOf(c)}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,1 L10,5 L0,9 z" fill="${c}"/></marker>`,
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" fill="#1a202c">`,
    `<defs>${markers.join('')}</defs>`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    options.title ? `<text x="${MARGIN}" y="${MARGIN + 12}" font-size="14" font-weight="700">${escapeXml(options.title)}</text>` : '',
    `<g transform="translate(${MARGIN},${MARGIN + top})">`,
    `<g class="cv-states">${boxes.join('')}</g>`,
    `<g class="cv-edges">${edges.map((e) => edgeSvg(e, markerOf(e.color))).join('')}</g>`,
    '</g>',
    '</svg>',
  ].join('\n');
}
