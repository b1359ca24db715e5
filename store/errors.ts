/** Why a store operation was refused; a closed set so callers can switch on it. */
export type StoreErrorCode = 'corrupt' | 'read' | 'stale' | 'write' | 'closed';

/** Base of every error the store raises on purpose. */
export abstract class StoreError extends Error {
  abstract readonly code: StoreErrorCode;
}

/** A checkpoint or journal file holds something the store cannot read back; the file is left untouched. */
export class StoreCorruptError extends StoreError {
  readonly code = 'corrupt';
  override readonly name = 'StoreCorruptError';

  constructor(
    readonly file: string,
    /** Byte offset in the file where reading failed. */
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`store: ${file} is corrupt at byte ${offset}: ${reason}`);
  }
}

/** A store file exists but could not be read (permissions, not a regular file, ...). */
export class StoreReadError extends StoreError {
  readonly code = 'read';
  override readonly name = 'StoreReadError';

  constructor(
    readonly file: string,
    cause: unknown,
  ) {
    super(`store: cannot read ${file}: ${describe(cause)}`, { cause });
  }
}

/** A task write named a rev that is not the current one (or created a task that exists); nothing was applied. */
export class StaleWriteError extends StoreError {
  readonly code = 'stale';
  override readonly name = 'StaleWriteError';

  constructor(
    readonly taskId: string,
    readonly expectedRev: number | null,
    /** The rev the store holds, counting writes still queued; null when the task does not exist. */
    readonly actualRev: number | null,
  ) {
    super(
      expectedRev === null
        ? `store: task ${taskId} already exists (rev ${actualRev})`
        : `store: task ${taskId} is at rev ${actualRev ?? 'none'}, write expected rev ${expectedRev}`,
    );
  }
}

/** The journal write or its fsync failed; nothing of the batch was applied and the caller may retry. */
export class StoreWriteError extends StoreError {
  readonly code = 'write';
  override readonly name = 'StoreWriteError';

  constructor(
    readonly file: string,
    cause: unknown,
  ) {
    super(`store: cannot write ${file}: ${describe(cause)}`, { cause });
  }
}

/** The store is not open: never loaded, load failed, or closed. */
export class StoreClosedError extends StoreError {
  readonly code = 'closed';
  override readonly name = 'StoreClosedError';

  constructor(readonly state: 'unloaded' | 'failed' | 'closed') {
    super(`store: not open (${state})`);
  }
}

function describe(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
