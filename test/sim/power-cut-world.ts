import { Conveyor, startBackground, timerActor, type Background, type BackgroundOptions, type Implementations } from '../../actors/index.ts';
import { defaultPipeline, type PipelineDefinition } from '../../machines/index.ts';
import { defaultTrackerRouting } from '../../server/default-tracker.ts';
import { SimClock } from '../../sim/clock.ts';
import { SimDisk } from '../../sim/disk.ts';
import { SimRandom } from '../../sim/random.ts';
import { EmbeddedStore } from '../../store/index.ts';
import { quietImplementations } from '../support/quiet-implementations.ts';

export interface PowerCutOptions {
  /** Decides which unsynced writes a power cut tears. */
  seed: number;
  /** The clock's first instant. */
  start: number;
  pipeline?: PipelineDefinition;
  /** Background actors to run beside the runtime, built anew at every boot (their settings, loops, outbox). */
  background?: (conveyor: Conveyor) => Partial<Omit<BackgroundOptions, 'conveyor'>>;
}

/** Invoked work that never answers, with the runtime's real timer: only events and deadlines move a task. */
const timersOnly: Implementations = (rt) => ({ ...quietImplementations(rt), timer: timerActor(rt) });

/** Lets every promise chain started so far run to its next wait on the clock (the simulated disk answers in microtasks). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * A conveyor on a simulated disk that loses what was not fsynced (sim/disk.ts) and a simulated clock
 * (sim/clock.ts). `powerCut()` abandons the running conveyor mid-flight, as a power loss does: no stop,
 * no checkpoint, its timers gone, its disk calls never answered; a new conveyor opens on what the disk kept.
 */
export class PowerCutWorld {
  readonly clock: SimClock;
  readonly disk: SimDisk;
  conveyor!: Conveyor;
  background: Background | null = null;
  boots = 0;
  #process = { alive: true };

  private constructor(private readonly o: PowerCutOptions) {
    this.clock = new SimClock(o.start);
    this.disk = new SimDisk(new SimRandom(o.seed));
  }

  static async open(o: PowerCutOptions): Promise<PowerCutWorld> {
    const world = new PowerCutWorld(o);
    await world.#boot();
    return world;
  }

  async #boot(): Promise<void> {
    const process = (this.#process = { alive: true });
    const fs = this.disk.view({ alive: () => process.alive });
    this.boots++;
    const store = new EmbeddedStore({ dir: '/data', fs, clock: this.clock });
    this.conveyor = new Conveyor({ store, clock: this.clock, pipeline: this.o.pipeline ?? defaultPipeline, implementations: timersOnly, bootId: `boot${this.boots}` });
    await this.conveyor.start();
    const background = this.o.background?.(this.conveyor);
    this.background = background
      ? startBackground(this.conveyor, {
          config: null, tracker: defaultTrackerRouting, env: {}, log: () => undefined,
          overrides: { clock: this.clock, retention: null, alive: () => false, kill: async () => undefined, ...background },
        })
      : null;
    await settle();
  }

  /** Cuts the power and opens a new conveyor on what the disk kept. */
  async powerCut(): Promise<void> {
    this.#process.alive = false;
    this.clock.dropProcessTimers();
    this.disk.crash();
    await this.#boot();
  }

  /** Lets time pass to `at`, running every timer due by then (a timer of the world's marks the instant, so a power cut does not drop it). */
  async advanceTo(at: number): Promise<void> {
    this.clock.later(at - this.clock.now(), () => undefined);
    await this.runUntil(() => this.clock.now() >= at, at);
  }

  /** Runs the clock's timers in order until `done` holds or the next timer is past `limit`; whether `done` held. */
  async runUntil(done: () => boolean, limit: number): Promise<boolean> {
    await settle();
    while (!done()) {
      if (!this.clock.runNext(limit)) return false;
      await settle();
    }
    return true;
  }
}
