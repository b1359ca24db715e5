import { constants, createWriteStream, mkdirSync, openSync } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Default bound of a job's log file. */
export const DEFAULT_MAX_LOG_BYTES = 1024 * 1024;

/** The line written once when a log reaches its bound. */
export function truncationMarker(maxBytes: number): string {
  return `\n[conveyor: log truncated at ${maxBytes} bytes; further output dropped]\n`;
}

export type LogOpenResult = { ok: true; log: BoundedLog } | { ok: false; error: string };

/** Creates (or truncates) a job's log file, creating its directory; failures are values. */
export function openBoundedLog(path: string, maxBytes: number = DEFAULT_MAX_LOG_BYTES): LogOpenResult {
  try {
    mkdirSync(dirname(path), { recursive: true });
    // O_APPEND so that an in-process agent appending to the same path never gets overwritten.
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_APPEND;
    const fd = openSync(path, flags, 0o644);
    return { ok: true, log: new BoundedLog(createWriteStream(path, { fd, autoClose: true }), maxBytes) };
  } catch (err) {
    return { ok: false, error: `executors: cannot open log ${path}: ${(err as Error).message}` };
  }
}

/**
 * A log file that keeps at most maxBytes of output and then one truncation marker.
 * Writes never wait: at most maxBytes are ever queued, so a producer is drained at full speed.
 */
export class BoundedLog {
  #stream: WriteStream;
  #max: number;
  #accepted = 0;
  #truncated = false;
  #failed: string | null = null;
  #closed: Promise<void> | null = null;

  constructor(stream: WriteStream, maxBytes: number) {
    this.#stream = stream;
    this.#max = Math.max(0, Math.floor(maxBytes));
    // A failing disk must not take the job down with it: the log just stops.
    stream.on('error', (err) => {
      this.#failed ??= err.message;
    });
  }

  /** Output bytes kept so far (notes and the marker excluded). */
  get bytesKept(): number {
    return this.#accepted;
  }

  get truncated(): boolean {
    return this.#truncated;
  }

  /** The write error that stopped the log, if any. */
  get error(): string | null {
    return this.#failed;
  }

  /** Appends output, dropping whatever exceeds the bound. */
  write(chunk: Buffer | string): void {
    if (this.#truncated || this.#closed || this.#failed) return;
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const room = this.#max - this.#accepted;
    if (buf.length <= room) {
      this.#accepted += buf.length;
      if (buf.length > 0) this.#stream.write(buf);
      return;
    }
    if (room > 0) this.#stream.write(buf.subarray(0, room));
    this.#accepted = this.#max;
    this.#truncated = true;
    this.#stream.write(truncationMarker(this.#max));
  }

  /** Appends one line of conveyor's own (a timeout, a kill, an error), outside the bound. */
  note(text: string): void {
    if (this.#closed || this.#failed) return;
    this.#stream.write(`[conveyor: ${text}]\n`);
  }

  /** Flushes and closes the file; never rejects. */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      if (this.#stream.destroyed || this.#stream.closed) return resolve();
      this.#stream.once('close', () => resolve());
      this.#stream.end();
    });
    return this.#closed;
  }
}

export type LogTail =
  /** size is the whole file's; clipped says the text starts after the file's beginning. */
  | { kind: 'ok'; text: string; size: number; clipped: boolean }
  | { kind: 'missing' }
  | { kind: 'error'; message: string };

/** Reads at most the last maxBytes of a log, starting on a whole UTF-8 character. */
export async function readLogTail(path: string, maxBytes: number): Promise<LogTail> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'error', message: `executors: cannot read log ${path}: ${(err as Error).message}` };
  }
  try {
    const { size } = await handle.stat();
    const want = Math.max(0, Math.min(size, Math.floor(maxBytes)));
    const start = size - want;
    const buf = Buffer.alloc(want);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await handle.read(buf, got, want - got, start + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    let from = 0;
    // Skip UTF-8 continuation bytes so a cut never shows as a replacement character.
    if (start > 0) while (from < got && from < 3 && ((buf[from] ?? 0) & 0xc0) === 0x80) from++;
    return { kind: 'ok', text: buf.subarray(from, got).toString('utf8'), size, clipped: start + from > 0 };
  } catch (err) {
    return { kind: 'error', message: `executors: cannot read log ${path}: ${(err as Error).message}` };
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** At most maxBytes of a log from byte `from` on, or null when the log does not exist (yet). */
export async function readLogRange(path: string, from: number, maxBytes: number): Promise<Buffer | null> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const buf = Buffer.alloc(maxBytes);
    let got = 0;
    while (got < maxBytes) {
      const { bytesRead } = await handle.read(buf, got, maxBytes - got, from + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got);
  } finally {
    await handle.close().catch(() => undefined);
  }
}
