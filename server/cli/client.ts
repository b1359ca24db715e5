import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CommandFailure, UsageError, type Io } from './command.ts';

const TOKEN_NAME = 'CONVEYOR_API_TOKEN';

/** The data directories a running conveyor keeps its secrets.json in: the one named, and its demo's. */
function secretsFiles(dataDir: string): string[] {
  return [join(dataDir, 'secrets.json'), join(dataDir, 'demo', 'secrets.json')];
}

/** The API token: CONVEYOR_API_TOKEN, else the one conveyor generated into the data directory. */
export function resolveToken(env: NodeJS.ProcessEnv, data: string | undefined): string {
  if (env[TOKEN_NAME]) return env[TOKEN_NAME];
  const dataDir = resolve(data ?? env.CONVEYOR_DATA ?? 'data');
  for (const file of secretsFiles(dataDir)) {
    if (!existsSync(file)) continue;
    let saved: Record<string, unknown>;
    try {
      saved = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new CommandFailure(`conveyor: ${file} is not readable JSON: ${(e as Error).message}`);
    }
    if (typeof saved[TOKEN_NAME] === 'string') return saved[TOKEN_NAME];
  }
  throw new CommandFailure(`conveyor: no API token: set ${TOKEN_NAME}, or point --data (or CONVEYOR_DATA) at the data directory of the running conveyor`);
}

interface ErrorBody {
  error?: { code?: string; message?: string; field?: string };
}

/** The HTTP API of a running conveyor, with its bearer token; every non-2xx answer becomes a CommandFailure. */
export class ApiClient {
  readonly base: string;

  constructor(base: string, private readonly token: string) {
    this.base = base.replace(/\/+$/, '');
  }

  static from(io: Io, values: { url?: string; data?: string }): ApiClient {
    const base = values.url ?? io.env.CONVEYOR_URL ?? 'http://127.0.0.1:8080';
    if (!/^https?:\/\/[^/]/.test(base)) throw new UsageError(`--url must be an http(s) URL, not ${base}`);
    return new ApiClient(base, resolveToken(io.env, values.data));
  }

  async request(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.base}/api${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new CommandFailure(`conveyor: cannot reach ${this.base} (${cause?.code ?? cause?.message ?? (e as Error).message}); is conveyor running there? (--url or CONVEYOR_URL)`);
    }
    if (res.ok) return res;
    const text = await res.text();
    let detail = text;
    try {
      const parsed = JSON.parse(text) as ErrorBody;
      if (parsed.error?.message) detail = `${parsed.error.code ?? 'error'}: ${parsed.error.message}`;
    } catch {
      // Not JSON: the text is the detail.
    }
    const hint = res.status === 401 ? ` (the token is from ${TOKEN_NAME} or the data directory's secrets.json; check it is this conveyor's)` : '';
    throw new CommandFailure(`conveyor: ${method} ${path} answered ${res.status}: ${detail}${hint}`);
  }

  async get<T>(path: string): Promise<T> {
    return (await (await this.request('GET', path)).json()) as T;
  }

  async post<T>(path: string, body: unknown): Promise<T> {
    return (await (await this.request('POST', path, body)).json()) as T;
  }

  async text(path: string): Promise<string> {
    return (await this.request('GET', path)).text();
  }

  /** Every item of a paged list, following `next` to the end. */
  async all<T>(path: string, name: string, query: Record<string, string | undefined> = {}): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | null = null;
    do {
      const params = new URLSearchParams(Object.entries({ ...query, limit: '1000', cursor: cursor ?? undefined }).filter((e): e is [string, string] => e[1] !== undefined));
      const page: Record<string, unknown> = await this.get(`${path}?${params}`);
      items.push(...(page[name] as T[]));
      cursor = (page.next as string | null | undefined) ?? null;
    } while (cursor !== null);
    return items;
  }
}

/** A path segment from user input, escaped. */
export const seg = (s: string) => encodeURIComponent(s);
