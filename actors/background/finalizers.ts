/**
 * Finalizations in flight in this boot, by job id: whoever records a job's exit and reports it to its task
 * registers here, so the reaper defers to a finalizer that is still at work instead of racing it (SPEC R23).
 */
export class Finalizers {
  readonly #inFlight = new Map<string, number>();

  /** Marks a finalization of the job as running until `release` is called. */
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

  /** Runs a finalization, registered for as long as it lasts. */
  async track<T>(jobId: string, work: () => Promise<T>): Promise<T> {
    const release = this.begin(jobId);
    try {
      return await work();
    } finally {
      release();
    }
  }

  isAlive(jobId: string): boolean {
    return this.#inFlight.has(jobId);
  }
}
