import { Hono } from 'hono';
import { repoForIssue, trackerEvent, type Conveyor, type SendOutcome } from '../../actors/index.ts';
import { HttpError } from '../http-error.ts';
import { trackerDeliveryKey } from './delivery-key.ts';
import { bodyText, DEFAULT_MAX_BODY_BYTES, readRawBody } from './raw-body.ts';
import { requestHeaders } from '../node-request.ts';
import { acknowledge, answerOutcome, parseError } from './respond.ts';
import { verifyHexHmac } from './signatures.ts';
import { parseTrackerEvent, type TrackerStateMap } from './tracker-payload.ts';

export interface TrackerRouting {
  states: TrackerStateMap;
  /** tracker project id → repository name */
  projectRepos: Record<string, string>;
  /** repository for issues whose project names none */
  defaultRepo?: string;
}

/** POST /webhooks/tracker: Plane-style issue webhooks, signed with X-Plane-Signature. */
export function trackerWebhook(conveyor: Conveyor, secret: string, routing: TrackerRouting, maxBodyBytes = DEFAULT_MAX_BODY_BYTES) {
  const app = new Hono();
  app.post('/', async (c) => {
    const bytes = await readRawBody(c, maxBodyBytes);
    const raw = bodyText(bytes);
    const headers = requestHeaders(c);
    if (!verifyHexHmac(secret, bytes, headers['x-plane-signature'])) {
      throw new HttpError('unauthorized', 'tracker webhook refused: X-Plane-Signature is missing or does not match');
    }
    const parsed = parseTrackerEvent(headers['x-plane-event'], raw, routing.states);
    if (!parsed.ok) throw parseError(parsed);
    const fact = parsed.fact;
    if (fact.kind === 'noop') return acknowledge(c, { status: 'noop', reason: fact.reason });
    // Plane makes a new delivery id for every retry, so the key is the change itself (SPEC R8).
    const deliveryKey = trackerDeliveryKey(fact);
    if (deliveryKey && conveyor.hasDelivery(deliveryKey)) return acknowledge(c, { status: 'duplicate', taskId: conveyor.taskForIssue(fact.issueId) ?? '' });

    const existing = conveyor.taskForIssue(fact.issueId);
    if (fact.kind === 'issue.comment') {
      if (!existing) {
        await conveyor.recordUnrouted(deliveryKey, fact, `no task for tracker issue ${fact.issueId}`);
        return acknowledge(c, { status: 'unrouted', reason: `no task for tracker issue ${fact.issueId}` });
      }
      const steer = { type: 'task.steer' as const, text: fact.text, by: fact.author, via: 'tracker issue' };
      return acknowledge(c, await conveyor.send(existing, steer, { source: 'webhook', deliveryKey }));
    }
    if (!existing && fact.meaning === 'start') {
      const repo = repoForIssue(fact, routing);
      if (!repo) {
        await conveyor.recordUnrouted(deliveryKey, fact, `issue ${fact.issueId}: its project names no repository`);
        return acknowledge(c, { status: 'unrouted', reason: `issue ${fact.issueId}: its project names no repository` });
      }
      const { taskId, created } = await conveyor.createTask(
        { repo, title: fact.title, trackerIssueId: fact.issueId, trackerProjectId: fact.projectId, branch: fact.branch },
        { source: 'webhook', deliveryKey },
      );
      return answerOutcome(c, { outcome: { status: created ? 'created' : 'duplicate', taskId } }, created ? 201 : 200);
    }
    // The same mapping replays a missed change from the reconciler (SPEC R21).
    const event = trackerEvent(fact.meaning, fact.issueId);
    if (!existing || !event) {
      const reason = !existing ? `no task for tracker issue ${fact.issueId}` : `tracker state ${fact.stateId} (${fact.meaning}) moves nothing`;
      await conveyor.recordUnrouted(deliveryKey, fact, reason);
      return acknowledge(c, { status: 'unrouted', reason });
    }
    const outcome: SendOutcome = await conveyor.send(existing, event, { source: 'webhook', deliveryKey });
    return acknowledge(c, outcome);
  });
  return app;
}
