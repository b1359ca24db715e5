import { SeenOnce } from './counters.ts';
import type { LogLine } from '../log.ts';

/**
 * Where a sweep puts the failure of one unit of work (a task, an issue, a job): counted every time, logged
 * once per unit and message so a unit that fails on every tick does not flood the log (SPEC R24).
 */
export class UnitErrors {
  readonly #logged = new SeenOnce(1_000);

  constructor(
    private readonly name: string,
    private readonly log: LogLine,
    private readonly count: () => void,
  ) {}

  report(unit: string, error: unknown): void {
    this.count();
    const message = error instanceof Error ? error.message : String(error);
    if (this.#logged.first(`${unit}\u0000${message}`)) this.log(`${this.name}: ${unit} failed, the sweep goes on: ${message}`, { level: 'warn' });
  }
}
