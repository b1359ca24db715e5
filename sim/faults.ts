import type { SimRandom } from './random.ts';

/** Every kind of fault the simulator injects, with its default probability per chance to happen. */
export const FAULT_DEFAULTS = {
  /** A webhook is never delivered. */
  lose: 0.1,
  /** A webhook is delivered twice, with the same delivery id. */
  dup: 0.1,
  /** A webhook is held back for minutes, so later ones overtake it. */
  reorder: 0.1,
  /** A forge or tracker API call answers 503. */
  apiFail: 0.05,
  /** A forge or tracker API call hangs until conveyor's timeout. */
  apiTimeout: 0.03,
  /** A forge or tracker API call does its work but its answer is lost. */
  apiLost: 0.03,
  /** A forge or tracker API call answers 429 with a Retry-After of up to a minute. */
  rateLimit: 0.03,
  /** An agent exits non-zero. */
  agentFail: 0.1,
  /** An agent hangs past its timeout. */
  agentHang: 0.03,
  /** An agent dies by a signal. */
  agentDie: 0.03,
  /** An agent of a later stage pushes a new commit, so facts about the old head go stale. */
  push: 0.05,
  /** CI fails on a head. */
  ciRed: 0.05,
  /** The reviewer asks for changes, the tests fail, a deploy fails. */
  red: 0.05,
  /** The forge refuses a merge as conflicting. */
  mergeConflict: 0.02,
  /** The remote branch diverged from the worktree at a stage boundary. */
  diverge: 0.02,
  /** A git operation is interrupted. */
  gitFail: 0.03,
  /** A disk write fails with ENOSPC. */
  enospc: 0.005,
  /** A disk write or fsync fails with EIO. */
  eio: 0.005,
  /** An implementation conveyor provides to a machine throws. */
  throw: 0.01,
  /** The process dies (power loss) at a step or a disk operation. */
  crash: 0.002,
} as const;

export type FaultKind = keyof typeof FAULT_DEFAULTS;
export type FaultRates = Record<FaultKind, number>;

/** Parses `lose=0.2,dup=0.1,...` onto the defaults; `none` turns every fault off. Throws naming a bad entry. */
export function parseFaults(spec: string | undefined): FaultRates {
  const rates: FaultRates = { ...FAULT_DEFAULTS };
  if (!spec) return rates;
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    if (part === 'none') {
      for (const k of Object.keys(rates) as FaultKind[]) rates[k] = 0;
      continue;
    }
    const [name, value] = part.split('=');
    if (!name || !(name in FAULT_DEFAULTS)) throw new Error(`sim: --faults: unknown fault ${JSON.stringify(name)} (one of: ${Object.keys(FAULT_DEFAULTS).join(', ')})`);
    const p = Number(value);
    if (!Number.isFinite(p) || p < 0 || p > 1) throw new Error(`sim: --faults: ${name} must be a probability in [0, 1], got ${JSON.stringify(value)}`);
    rates[name as FaultKind] = p;
  }
  return rates;
}

/**
 * Decides every fault of one run from its own generator. Each fault that fires gets an ordinal; a mask
 * of ordinals switches some off, which is how a failing run is shrunk: the draws stay the same.
 */
export class Faults {
  readonly fired: Record<string, number> = {};
  /** The ordinals of the faults that fired, with their kind, in order. */
  readonly schedule: { ordinal: number; kind: FaultKind }[] = [];
  #ordinal = 0;
  /** Faults stop once the run's fault phase is over; only the world's ordinary behaviour goes on. */
  active = true;

  constructor(
    private readonly random: SimRandom,
    private readonly rates: FaultRates,
    private readonly mask: ReadonlySet<number> = new Set(),
    private readonly note: (line: string) => void = () => undefined,
  ) {}

  roll(kind: FaultKind): boolean {
    const draw = this.random.next();
    if (!this.active || draw >= this.rates[kind]) return false;
    const ordinal = ++this.#ordinal;
    if (this.mask.has(ordinal)) return false;
    this.fired[kind] = (this.fired[kind] ?? 0) + 1;
    this.schedule.push({ ordinal, kind });
    this.note(`fault #${ordinal} ${kind}`);
    return true;
  }
}
