import { signHex } from '../server/webhooks/signatures.ts';
import type { SimClock } from './clock.ts';
import type { Faults } from './faults.ts';
import type { SimRandom } from './random.ts';

export const TRACKER_SECRET = 'sim-tracker-secret';
export const FORGE_SECRET = 'sim-forge-secret';

/** A delivery as conveyor's HTTP surface receives it. */
export interface Delivery {
  id: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

/**
 * The webhooks of the simulated tracker and forge, each signed as the real ones are, on their way to
 * conveyor: lost, duplicated (same delivery id) or held back past later ones as the faults say.
 */
export class Webhooks {
  #seq = 0;

  constructor(
    private readonly clock: SimClock,
    private readonly random: SimRandom,
    private readonly faults: Faults,
    /** Hands a delivery to whatever conveyor is running now. */
    private readonly deliver: (d: Delivery) => void,
  ) {}

  send(from: 'forge' | 'tracker', event: string, payload: unknown): void {
    const body = JSON.stringify(payload);
    const id = `${from}-${++this.#seq}`;
    const headers: Record<string, string> = from === 'forge'
      ? { 'content-type': 'application/json', 'x-gitea-event': event, 'x-gitea-delivery': id, 'x-gitea-signature': signHex(FORGE_SECRET, body) }
      : { 'content-type': 'application/json', 'x-plane-event': event, 'x-plane-delivery': id, 'x-plane-signature': signHex(TRACKER_SECRET, body) };
    const delivery = { id, path: from === 'forge' ? '/webhooks/forge' : '/webhooks/tracker', headers, body };
    if (this.faults.roll('lose')) return;
    const copies = this.faults.roll('dup') ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const held = this.faults.roll('reorder') ? this.random.int(5 * 60_000, 60 * 60_000) : 0;
      this.clock.later(this.random.int(10, 3_000) + held, () => this.deliver(delivery));
    }
  }
}
