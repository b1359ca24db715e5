import { createMiddleware } from 'hono/factory';
import type { ConveyorMetrics, WebhookOutcome } from '../actors/index.ts';
import { outcomeOf } from './webhooks/respond.ts';

// The outcome a webhook's answer names, folded into the few an operator alerts on.
const OUTCOMES: Record<string, WebhookOutcome> = {
  accepted: 'accepted',
  created: 'accepted',
  ignored: 'ignored',
  noop: 'ignored',
  duplicate: 'duplicate',
  unrouted: 'unrouted',
  not_found: 'unrouted',
};

/** Counts every delivery under /webhooks/<source> by what its answer says came of it. */
export function countWebhookOutcomes(metrics: ConveyorMetrics) {
  return createMiddleware(async (c, next) => {
    await next();
    // From the matched route, never the raw path: a request to a made-up source must not mint a label.
    const segment = c.req.routePath.split('/')[2] ?? '';
    const source = segment === '' || segment.includes('*') ? 'unknown' : segment;
    const status = c.res.status;
    if (status >= 500) return metrics.webhook(source, 'failed');
    if (status >= 400) return metrics.webhook(source, 'refused');
    // Every 2xx a webhook route gives is made by answerOutcome, which notes its outcome.
    metrics.webhook(source, OUTCOMES[outcomeOf(c) ?? 'accepted'] ?? 'accepted');
  });
}
