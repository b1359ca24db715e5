/** One transition of a model graph between serialized states. */
export interface Edge {
  /** Unique among the edges of the graph: the source state and the event. */
  id: string;
  from: string;
  to: string;
}

/** The graph a cover is built over: from the initial state, the edges that must each be taken once. */
export interface CoverGraph<T extends Edge> {
  initial: string;
  /** The required edges leaving each state, in a stable order. */
  out: ReadonlyMap<string, readonly T[]>;
}

export interface CoverOptions {
  /** A path stops growing once it has this many steps. */
  maxSteps: number;
  /** How far a path may travel over covered edges to reach an uncovered one before it ends. */
  maxDetour: number;
}

/** The shortest path (as edges) from the initial state to every reachable state, in breadth-first order. */
export function shortestPaths<T extends Edge>(graph: CoverGraph<T>): Map<string, T[]> {
  const parent = new Map<string, T | null>([[graph.initial, null]]);
  const order = [graph.initial];
  for (let i = 0; i < order.length; i++) {
    for (const edge of graph.out.get(order[i]!) ?? []) {
      if (parent.has(edge.to)) continue;
      parent.set(edge.to, edge);
      order.push(edge.to);
    }
  }
  const paths = new Map<string, T[]>();
  for (const state of order) {
    const edge = parent.get(state);
    paths.set(state, edge ? [...paths.get(edge.from)!, edge] : []);
  }
  return paths;
}

/**
 * Paths that together take every edge, starting from the seed paths: each uncovered edge gets the
 * shortest path to its source, then the path keeps walking to nearby uncovered edges, so paths stay few.
 */
export function coverPaths<T extends Edge>(graph: CoverGraph<T>, seeds: readonly T[][], options: CoverOptions): T[][] {
  const covered = new Set<string>();
  const open = (state: string) => (graph.out.get(state) ?? []).filter((e) => !covered.has(e.id));

  // Loops first (the path stays put), edges into states with no way out last (the path ends there).
  const nextEdge = (state: string): T | undefined => {
    const edges = open(state);
    return edges.find((e) => e.to === e.from) ?? edges.find((e) => (graph.out.get(e.to) ?? []).length > 0) ?? edges[0];
  };

  // The shortest walk to a state that still has an uncovered edge, no longer than maxDetour.
  const detour = (from: string): T[] | undefined => {
    const via = new Map<string, T | null>([[from, null]]);
    let frontier = [from];
    for (let depth = 0; depth < options.maxDetour && frontier.length > 0; depth++) {
      const next: string[] = [];
      for (const state of frontier) {
        for (const edge of graph.out.get(state) ?? []) {
          if (via.has(edge.to)) continue;
          via.set(edge.to, edge);
          if (open(edge.to).length > 0) {
            const walk: T[] = [];
            for (let e: T | null | undefined = edge; e; e = via.get(e.from)) walk.unshift(e);
            return walk;
          }
          next.push(edge.to);
        }
      }
      frontier = next;
    }
    return undefined;
  };

  const extend = (path: T[]): T[] => {
    for (const e of path) covered.add(e.id);
    while (path.length < options.maxSteps) {
      const at = path.at(-1)?.to ?? graph.initial;
      const edge = nextEdge(at);
      const steps = edge ? [edge] : detour(at);
      if (!steps) break;
      for (const e of steps) covered.add(e.id);
      path.push(...steps);
    }
    return path;
  };

  const paths: T[][] = [];
  for (const seed of seeds) {
    if (seed.length === 0 || seed.some((e) => !covered.has(e.id))) paths.push(extend([...seed]));
  }
  const prefixes = shortestPaths(graph);
  for (const [state, prefix] of prefixes) {
    for (const edge of graph.out.get(state) ?? []) {
      if (!covered.has(edge.id)) paths.push(extend([...prefix, edge]));
    }
  }
  return paths;
}
