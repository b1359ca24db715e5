/** A promise with its resolve and reject in hand. */
export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A commit that fails rejects this; callers that never awaited must not crash the process.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}
