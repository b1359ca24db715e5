import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Logger } from 'pino';
import type { Conveyor } from '../actors/index.ts';
import { RuntimeStoppingError, TaskEventError } from '../actors/index.ts';
import { machineCatalog } from './machine-catalog.ts';
import { machinesApi } from './api/machines.ts';
import { chartsApi } from './api/charts.ts';
import { consoleApp } from './console/console-app.ts';
import { alertsApi } from './api/alerts.ts';
import { backgroundApi } from './api/background.ts';
import { decisionsApi } from './api/decisions.ts';
import { effectsApi } from './api/effects.ts';
import { jobsApi } from './api/jobs.ts';
import { tasksApi } from './api/tasks.ts';
import { timeTravelApi } from './api/time-travel.ts';
import { bearerAuth } from './auth.ts';
import { eventsApi, LiveEvents, StreamTickets } from './events/index.ts';
import { HttpError, errorResponse } from './http-error.ts';
import { silentLogger } from './logger.ts';
import { metricsRoute } from './metrics-route.ts';
import { docsPage, openApiDocument } from './openapi/index.ts';
import { requestLog, type RequestVariables } from './request-log.ts';
import { countWebhookOutcomes } from './webhook-outcomes.ts';
import { DEFAULT_MAX_BODY_BYTES, ForgeRepositories, forgeWebhook, trackerWebhook, type IntakeRepository, type TrackerRouting } from './webhooks/index.ts';

export interface AppDeps {
  conveyor: Conveyor;
  apiToken: string;
  trackerSecret: string;
  forgeSecret: string;
  tracker: TrackerRouting;
  /** Configured repositories as forges name them, with their own webhook secrets; without them `full_name` is the repository's name. */
  repositories?: IntakeRepository[];
  /** How far a Standard Webhooks timestamp may be from now; default 5 minutes. */
  replayWindowMs?: number;
  /** Bearer token a scraper must present at GET /metrics; without it /metrics is open to whoever reaches the address. */
  metricsToken?: string;
  /** Largest accepted request body, in bytes. */
  maxBodyBytes?: number;
  now?: () => number;
  /** The event streams; server/main.ts keeps it to end them at shutdown. */
  live?: LiveEvents;
  /** Access lines and failures; none are written without it. */
  logger?: Logger;
  /** The level of access lines of answered requests (refused ones are warn, failed ones error); default info. */
  accessLogLevel?: 'info' | 'debug';
}

/** The whole HTTP surface; only server/main.ts binds it to a port. */
export function createApp(deps: AppDeps) {
  const { conveyor } = deps;
  const now = deps.now ?? (() => conveyor.runtime.clock.now());
  const logger = deps.logger ?? silentLogger();
  const app = new Hono<{ Variables: RequestVariables }>();

  app.use('*', requestLog(logger.child({ name: 'http' }), conveyor.metrics, deps.accessLogLevel));
  const maxBodyBytes = deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const limit = bodyLimit({
    maxSize: maxBodyBytes,
    onError: () => {
      throw new HttpError('payload_too_large', `request body is larger than ${maxBodyBytes} bytes`);
    },
  });
  // Webhooks read their raw bytes themselves, with the same limit: hono's bodyLimit would turn every body into a web stream.
  app.use('*', (c, next) => (c.req.path.startsWith('/webhooks/') ? next() : limit(c, next)));

  app.get('/health', (c) => c.json({ ok: true }));
  app.route('/metrics', metricsRoute(conveyor.metrics, deps.metricsToken));
  app.use('/webhooks/*', countWebhookOutcomes(conveyor.metrics));
  app.route('/webhooks/tracker', trackerWebhook(conveyor, deps.trackerSecret, deps.tracker, maxBodyBytes));
  app.route('/webhooks/forge', forgeWebhook(conveyor, {
    repositories: new ForgeRepositories(deps.repositories), secret: { current: deps.forgeSecret }, now, toleranceMs: deps.replayWindowMs, maxBodyBytes,
  }));

  // Before /api: the stream also opens with a ticket cookie, since a browser's EventSource sends no header.
  const live = deps.live ?? new LiveEvents(conveyor);
  app.route('/api/events', eventsApi({ apiToken: deps.apiToken, live, tickets: new StreamTickets(now) }));
  // The contract holds no data: it and its page are readable without a token.
  const contract = openApiDocument();
  app.get('/api/openapi.json', (c) => c.json(contract));
  app.get('/api/docs', (c) => c.html(docsPage(contract)));

  const api = new Hono();
  api.use('*', bearerAuth(deps.apiToken, (jobId, token) => conveyor.verifyJobToken(jobId, token)));
  api.route('/tasks', tasksApi(conveyor));
  api.route('/tasks', timeTravelApi(conveyor));
  api.route('/jobs', jobsApi(conveyor));
  api.route('/effects', effectsApi(conveyor));
  api.route('/decisions', decisionsApi(conveyor));
  api.route('/alerts', alertsApi(conveyor));
  api.get('/status', (c) => c.json(conveyor.status()));
  api.route('/background', backgroundApi(conveyor));
  // Every machine conveyor runs, exported and drawn from the same definitions (SPEC R33).
  const catalog = machineCatalog(conveyor.runtime.machine);
  api.route('/machines', machinesApi(catalog));
  api.route('/', chartsApi(conveyor, Object.fromEntries(Object.entries(catalog).map(([id, entry]) => [id, entry.machine]))));
  app.route('/api', api);
  // The console page holds no data; everything it shows comes through the authenticated /api.
  app.route('/console', consoleApp());
  // Browsers ask every origin for /favicon.ico; the console's icon answers.
  app.get('/favicon.ico', (c) => c.redirect('/console/assets/favicon.svg', 301));

  app.notFound((c) => errorResponse(c, new HttpError('not_found', `no route for ${c.req.method} ${c.req.path}`)));
  app.onError((err, c) => {
    if (err instanceof HttpError) return errorResponse(c, err);
    if (err instanceof RuntimeStoppingError) return errorResponse(c, new HttpError('unavailable', err.message));
    // Nothing was acknowledged: a storage failure answers 503 so the sender retries (SPEC R9).
    if (isStorageError(err)) return errorResponse(c, new HttpError('unavailable', `not stored, retry later: ${err.message}`));
    // The task threw taking the event: it stays where it was, the alert names the error; the sender retries.
    if (err instanceof TaskEventError) return errorResponse(c, new HttpError('internal', err.message));
    logger.error({ reqId: c.var.requestId, err }, `${c.req.method} ${c.req.path} failed`);
    return errorResponse(c, new HttpError('internal', 'internal error; nothing was applied'));
  });
  return app;
}

function isStorageError(err: Error): boolean {
  return err.name === 'StoreWriteError' || err.name === 'StaleWriteError' || err.message.startsWith('store:');
}
