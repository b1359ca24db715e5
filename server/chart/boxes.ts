import type { ChartModel, ChartNode } from './chart-model.ts';

/** Font size of state names. */
export const FONT = 12;
/** Font size of edge labels. */
export const LABEL_FONT = 10;
/** Inner padding of a box. */
export const PAD = 10;
/** Horizontal space between boxes of a row. */
export const GAP = 34;
/** Vertical space between boxes of a column. */
export const VGAP = 22;
/** Height of a container's label strip. */
export const HEADER = 24;
/** Height of a simple state's box. */
export const ATOM_H = 30;
/** Distance between parallel edge lanes. */
export const LANE = 14;
/** Distance between ports on a left or right side. */
export const PORT_GAP = 14;

/**
 * How a box arranges its children: `split` is a pipeline chart's root (the pipeline on the left, the other
 * states in a column on the right), `column` stacks the pipeline's stages, `row` puts a stage's states
 * left to right, `stack` stacks the right-hand column's states, `grid` is the layout of any other machine.
 */
export type Role = 'split' | 'column' | 'row' | 'stack' | 'grid' | 'leaf' | 'history';

/** A state's box: sizes from measuring, positions (absolute) from placing. */
export interface Box {
  node: ChartNode;
  role: Role;
  parent: Box | null;
  children: Box[];
  x: number;
  y: number;
  w: number;
  h: number;
  /** Offset in the parent box. */
  rx: number;
  ry: number;
  /** Extra space under the header, so that side ports fit. */
  lead: number;
  /** Heights of the lane bands above and below a row's children. */
  above: number;
  below: number;
  /** Inner side margins; a column's vertical lanes run in them. */
  padL: number;
  padR: number;
  /** Height of a row's tallest child. */
  contentH: number;
}

/** All boxes of a chart, by state id. */
export interface Boxes {
  root: Box;
  of: Map<string, Box>;
  /** The pipeline column of a split chart. */
  main: Box | null;
}

const isContainer = (n: ChartNode) => n.children.length > 0;

/** A child of the root with at least two compound children of its own: the stages of a pipeline. */
function findPipeline(root: ChartNode): ChartNode | null {
  if (root.kind === 'parallel') return null;
  let best: ChartNode | null = null;
  let bestCount = 1;
  for (const child of root.children) {
    const count = child.children.filter(isContainer).length;
    if (count > bestCount) [best, bestCount] = [child, count];
  }
  return best;
}

/** One box per state node, each with its role in the layout. */
export function buildBoxes(model: ChartModel): Boxes {
  const of = new Map<string, Box>();
  const pipeline = findPipeline(model.root);
  const make = (node: ChartNode, parent: Box | null, inherited: Role): Box => {
    let role: Role = inherited;
    if (node.kind === 'history') role = 'history';
    else if (!isContainer(node)) role = 'leaf';
    const box: Box = { node, role, parent, children: [], x: 0, y: 0, w: 0, h: 0, rx: 0, ry: 0, lead: 0, above: 0, below: 0, padL: PAD, padR: PAD, contentH: 0 };
    of.set(node.id, box);
    box.children = node.children.map((c) => {
      if (role === 'split') return make(c, box, c === pipeline ? 'column' : 'stack');
      if (role === 'column') return make(c, box, 'row');
      return make(c, box, role);
    });
    return box;
  };
  const root = make(model.root, null, pipeline ? 'split' : 'grid');
  // Outside a pipeline, parallel regions are stacked and other states are rows, whose edges get lanes
  // rather than diagonals; only a state with many children falls back to a grid.
  if (!pipeline) {
    for (const box of of.values()) {
      if (box.role !== 'grid') continue;
      if (box.node.kind === 'parallel') box.role = 'stack';
      else if (box.children.length <= 8) box.role = 'row';
    }
  }
  return { root, of, main: pipeline ? (of.get(pipeline.id) ?? null) : null };
}

/** Whether `a` is a proper ancestor of `b`. */
export function isAncestor(a: Box, b: Box): boolean {
  for (let p = b.parent; p; p = p.parent) if (p === a) return true;
  return false;
}

/** The deepest box that is a proper ancestor of both; null when one of them is the root. */
export function strictCommonAncestor(a: Box, b: Box): Box | null {
  const seen = new Set<Box>();
  for (let p = a.parent; p; p = p.parent) seen.add(p);
  for (let p = b.parent; p; p = p.parent) if (seen.has(p)) return p;
  return null;
}

/** The child of `ancestor` on the way down to `box` (the box itself when it is that child). */
export function childToward(ancestor: Box, box: Box): Box {
  let b = box;
  while (b.parent && b.parent !== ancestor) b = b.parent;
  return b;
}

/** The box's x offset inside `ancestor`. */
export function relX(box: Box, ancestor: Box): number {
  let x = 0;
  for (let b: Box | null = box; b && b !== ancestor; b = b.parent) x += b.rx;
  return x;
}

/** The child index path compared between siblings: how far right `to` lies from `from` under their common ancestor. */
export function columnsApart(from: Box, to: Box): number {
  const c = strictCommonAncestor(from, to);
  if (!c) return 0;
  return c.children.indexOf(childToward(c, to)) - c.children.indexOf(childToward(c, from));
}
