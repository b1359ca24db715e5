import type { CommandExit, RunCommand } from '../actors/index.ts';
import type { SimClock } from './clock.ts';
import type { Faults } from './faults.ts';
import type { SimRandom } from './random.ts';

/**
 * The staging and production environments: `deploy <environment>` deploys the task's change, `check`
 * says whether an environment runs it. Counts every deploy performed per effect key: two successful
 * deploys of one key are a violation.
 */
export class SimDeploys {
  readonly performed = new Map<string, number>();
  readonly #running = new Set<string>();

  constructor(
    private readonly clock: SimClock,
    private readonly random: SimRandom,
    private readonly faults: Faults,
  ) {}

  /** The command runner one process sees: a dead process hears no exit, though a deploy it started goes on. */
  view(alive: () => boolean): RunCommand {
    return (argv, opts) => {
      if (this.faults.roll('throw')) throw new Error('sim: injected throw in runCommand');
      const key = opts.env.CONVEYOR_EFFECT_KEY ?? '';
      const env = opts.env.CONVEYOR_ENVIRONMENT ?? '';
      const change = `${opts.env.CONVEYOR_TASK_ID}:${env}:${opts.env.CONVEYOR_SHA}`;
      return new Promise<CommandExit>((resolve) => {
        const fail = argv[0] === 'deploy' && this.faults.roll('red');
        this.clock.later(this.random.int(1_000, 5 * 60_000), () => {
          let exit: CommandExit;
          if (argv[0] === 'check') exit = { code: this.#running.has(change) ? 0 : 1, output: '' };
          else if (fail) exit = { code: 1, output: `deploy to ${env} failed` };
          else {
            this.performed.set(key, (this.performed.get(key) ?? 0) + 1);
            this.#running.add(change);
            exit = { code: 0, output: `deployed to ${env}` };
          }
          if (alive()) resolve(exit);
        });
      });
    };
  }
}
