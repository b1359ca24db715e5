import { Hono } from 'hono';
import type { ConveyorMetrics } from '../actors/index.ts';
import { safeEqual } from './auth.ts';
import { HttpError } from './http-error.ts';

/**
 * GET /metrics in Prometheus text format. With a metrics token, only a scraper presenting it (as a bearer
 * token) reads it; without one, access is whatever reaches the address conveyor binds (loopback by default).
 */
export function metricsRoute(metrics: ConveyorMetrics, token?: string) {
  const app = new Hono();
  app.get('/', async (c) => {
    if (token) {
      const header = c.req.header('authorization') ?? '';
      const given = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
      if (given === '' || !safeEqual(given, token)) throw new HttpError('unauthorized', 'the metrics token is required as a bearer token');
    }
    const { text, contentType } = await metrics.exposition();
    return c.body(text, 200, { 'content-type': contentType, 'cache-control': 'no-store' });
  });
  return app;
}
