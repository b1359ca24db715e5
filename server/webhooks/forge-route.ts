import { Hono } from 'hono';
import type { Conveyor, TaskEventInput } from '../../actors/index.ts';
import { HttpError } from '../http-error.ts';
import { forgeDeliveryId, forgeDeliveryKey } from './delivery-key.ts';
import { readJson, type ForgeFact } from './facts.ts';
import { repositoryIdentity, type ForgeRepositories, type RotatingSecret } from './forge-repositories.ts';
import { parseForgeJson } from './forge-payload.ts';
import { bodyText, DEFAULT_MAX_BODY_BYTES, readRawBody } from './raw-body.ts';
import { requestHeaders } from '../node-request.ts';
import { acknowledge, parseError } from './respond.ts';
import { headerValue, verifyForgeRequest } from './signatures.ts';

type Routable = Exclude<ForgeFact, { kind: 'noop' }>;

function toTaskEvent(fact: Routable): TaskEventInput {
  switch (fact.kind) {
    case 'ci.status':
      return { type: 'ci.status', sha: fact.sha, state: fact.state, context: fact.context, url: fact.url, description: fact.description };
    case 'pr.opened':
      return { type: 'pr.opened', number: fact.number, sha: fact.sha, url: fact.url };
    case 'pr.synchronized':
      return { type: 'pr.synchronized', sha: fact.sha };
    case 'pr.closed':
      return fact.merged ? { type: 'pr.merged', sha: fact.sha, mergeSha: fact.mergeSha } : { type: 'pr.closed' };
    case 'review.verdict':
      return { type: 'review.verdict', sha: fact.sha, verdict: fact.verdict, comments: fact.comments };
    case 'comment':
      return { type: 'task.steer', text: fact.text, by: fact.author, via: 'pull request' };
    default: {
      const never: never = fact;
      throw new Error(`server: unroutable forge fact ${JSON.stringify(never)}`);
    }
  }
}

/**
 * The task a forge fact is about: by branch; a CI status by its sha, then its branches, then the single
 * task in development for the repository (SPEC R10). Ambiguity is an answer too, never a guess.
 */
function route(conveyor: Conveyor, fact: Routable): { taskId: string } | { reason: string } {
  if (fact.kind === 'comment') {
    const taskId = conveyor.taskForPullRequest(fact.repo, fact.number);
    return taskId ? { taskId } : { reason: `no task owns pull request #${fact.number} of ${fact.repo}` };
  }
  if (fact.kind !== 'ci.status') {
    const taskId = conveyor.taskForBranch(fact.repo, fact.branch);
    return taskId ? { taskId } : { reason: `no task owns branch ${fact.branch} of ${fact.repo}` };
  }
  const bySha = conveyor.taskForHeadSha(fact.sha);
  if (bySha) return { taskId: bySha };
  const byBranch = [...new Set(fact.branches.map((b) => conveyor.taskForBranch(fact.repo, b)).filter((t): t is string => !!t))];
  if (byBranch.length === 1) return { taskId: byBranch[0]! };
  if (byBranch.length > 1) return { reason: `sha ${fact.sha} is on branches of ${byBranch.length} tasks` };
  const developing = conveyor.tasks({ repo: fact.repo, stage: 'development' });
  if (developing.length === 1) return { taskId: developing[0]!.id };
  return { reason: `sha ${fact.sha} names no known branch and ${developing.length} tasks of ${fact.repo} are in development` };
}

/** What forge intake needs besides the conveyor: who the repositories are, their secrets, and the clock. */
export interface ForgeIntakeOptions {
  repositories: ForgeRepositories;
  /** The forge-wide secret, for repositories without their own. */
  secret: RotatingSecret;
  now: () => number;
  /** How far a Standard Webhooks timestamp may be from now; default 5 minutes. */
  toleranceMs?: number;
  /** Larger bodies are refused with 413; default 1 MiB. */
  maxBodyBytes?: number;
}

/** POST /webhooks/forge: Gitea, GitHub and Standard Webhooks deliveries, verified over the raw bytes. */
export function forgeWebhook(conveyor: Conveyor, o: ForgeIntakeOptions) {
  const app = new Hono();
  app.post('/', async (c) => {
    const raw = await readRawBody(c, o.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
    const headers = requestHeaders(c);
    // Parsed once: the body picks which secret to check it against, and is trusted for nothing else until it passes.
    const json = readJson(bodyText(raw));
    const identity = repositoryIdentity(json.ok ? json.value : undefined);
    const verified = verifyForgeRequest(o.repositories.secretsFor(identity, o.secret, o.now()), raw, headers, o.now(), o.toleranceMs);
    // Nothing unauthenticated is written: a flood of forged deliveries costs no disk and no alerts.
    if (!verified.ok) throw new HttpError('unauthorized', `forge webhook refused: ${verified.reason}`);
    const eventName = headerValue(headers, 'x-gitea-event') ?? headerValue(headers, 'x-github-event');
    if (!json.ok) throw parseError(json);
    const parsed = parseForgeJson(eventName, json.value);
    if (!parsed.ok) throw parseError(parsed);
    const fact = parsed.fact;
    if (fact.kind === 'noop') return acknowledge(c, { status: 'noop', reason: fact.reason });
    const deliveryKey = forgeDeliveryKey(verified.scheme, headers, raw);
    if (conveyor.hasDelivery(deliveryKey)) return acknowledge(c, { status: 'duplicate', taskId: '' });
    const repo = o.repositories.resolve(identity);
    const target = 'name' in repo ? route(conveyor, { ...fact, repo: repo.name }) : repo;
    if ('reason' in target) {
      await conveyor.recordUnrouted(deliveryKey, { ...fact, deliveryId: forgeDeliveryId(headers) }, target.reason);
      return acknowledge(c, { status: 'unrouted', reason: target.reason });
    }
    const outcome = await conveyor.send(target.taskId, toTaskEvent(fact), { source: 'webhook', deliveryKey });
    return acknowledge(c, outcome);
  });
  return app;
}
