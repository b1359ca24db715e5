import { KeyedSerial } from '../keyed-serial.ts';

/**
 * Finalizations in this boot, by job id: a job's own watcher registers from the moment it watches the job's
 * process until its exit is recorded and reported, and the reaper defers to it instead of racing it (SPEC R23).
 * The recordings themselves take turns per job, so whoever comes second sees the first one's record.
 */
export class Finalizers {
  readonly #inFlight = new Map<string, number>();
  readonly #turns = new KeyedSerial();

  /** Marks the job as watched (its finalization pending) until `release` is called. */
  begin(jobId: string): () => void {
    this.#inFlight.set(jobId, (this.#inFlight.get(jobId) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#inFlight.get(jobId) ?? 1) - 1;
      if (left > 0) this.#inFlight.set(jobId, left);
      else this.#inFlight.delete(jobId);
    };
  }

  /** Runs a finalization, registered for as long as it lasts, after any other of the same job. */
  track<T>(jobId: string, work: () => Promise<T>): Promise<T> {
    const release = this.begin(jobId);
    return this.#turns.run(jobId, work).finally(release);
  }

  isAlive(jobId: string): boolean {
    return this.#inFlight.has(jobId);
  }
}
