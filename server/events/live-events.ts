import type { Conveyor } from '../../actors/index.ts';
import { activityMessage, liveMessages, type LiveMessage } from './live-messages.ts';

/** Bytes a client may leave unread before it is cut off; it reconnects and reloads what it shows. */
const MAX_UNREAD_BYTES = 1024 * 1024;
/** A comment line this often keeps proxies from closing an idle stream and finds dead connections. */
const KEEP_ALIVE_MS = 15_000;
/** What a browser waits before reconnecting after the stream ends. */
const RETRY_MS = 2_000;

interface Client {
  send(text: string): void;
  end(): void;
}

const encoder = new TextEncoder();

/**
 * Fans what each durable commit wrote out to every open event stream (Server-Sent Events). Nothing is
 * replayed: a client that (re)connects gets a `ready` message (with the boot id) and loads the current state itself.
 */
export class LiveEvents {
  readonly #clients = new Set<Client>();
  readonly #unfollow: () => void;
  readonly #bootId: string;
  #seq = 0;
  #closed = false;
  #keepAlive: NodeJS.Timeout | null = null;

  constructor(conveyor: Conveyor) {
    this.#bootId = conveyor.runtime.bootId;
    const unfollowCommits = conveyor.onCommit((records) => this.publish(liveMessages(conveyor, records)));
    // A job's activity is durable in its activity log, not in the store: it comes from the workbench as recorded.
    const unfollowActivity = conveyor.workbench?.activity.follow((batch) => this.publish([activityMessage(batch)])) ?? (() => undefined);
    this.#unfollow = () => {
      unfollowCommits();
      unfollowActivity();
    };
  }

  /** Open streams. */
  get size(): number {
    return this.#clients.size;
  }

  /** A new stream of SSE text; it ends when the client goes, when it falls too far behind, or at close(). */
  open(): ReadableStream<Uint8Array> {
    let client: Client | undefined;
    return new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          const c: Client = {
            send: (text) => {
              if ((controller.desiredSize ?? 0) <= 0) {
                this.drop(c);
                controller.error(new Error('server: event stream client fell behind'));
                return;
              }
              controller.enqueue(encoder.encode(text));
            },
            end: () => controller.close(),
          };
          client = c;
          if (this.#closed) return controller.close();
          this.#clients.add(c);
          this.keepAlive();
          c.send(`retry: ${RETRY_MS}\n${frame({ event: 'ready', data: { bootId: this.#bootId } }, ++this.#seq)}`);
        },
        cancel: () => {
          if (client) this.drop(client);
        },
      },
      { highWaterMark: MAX_UNREAD_BYTES, size: (chunk) => chunk.byteLength },
    );
  }

  /** Ends every stream and takes no more; an open stream would otherwise keep the HTTP server from closing. */
  close(): void {
    this.#closed = true;
    this.#unfollow();
    for (const client of [...this.#clients]) {
      this.drop(client);
      client.end();
    }
  }

  private publish(messages: LiveMessage[]): void {
    if (this.#clients.size === 0) return;
    for (const message of messages) {
      const text = frame(message, ++this.#seq);
      for (const client of [...this.#clients]) client.send(text);
    }
  }

  private drop(client: Client): void {
    this.#clients.delete(client);
    if (this.#clients.size === 0 && this.#keepAlive) {
      clearInterval(this.#keepAlive);
      this.#keepAlive = null;
    }
  }

  private keepAlive(): void {
    if (this.#keepAlive) return;
    this.#keepAlive = setInterval(() => {
      for (const client of [...this.#clients]) client.send(': keep-alive\n\n');
    }, KEEP_ALIVE_MS);
    this.#keepAlive.unref();
  }
}

function frame(message: { event: string; data: unknown }, id: number): string {
  // JSON has no raw newlines, so the data is always one `data:` line.
  return `event: ${message.event}\nid: ${id}\ndata: ${JSON.stringify(message.data)}\n\n`;
}
