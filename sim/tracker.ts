import { defaultTrackerRouting } from '../server/default-tracker.ts';
import type { TrackerStateMap } from '../server/webhooks/tracker-payload.ts';
import type { SimClock } from './clock.ts';
import type { Faults } from './faults.ts';
import { json, simFetch } from './sim-api.ts';
import type { SimRandom } from './random.ts';
import type { Webhooks } from './webhooks.ts';

export const TRACKER_API = 'http://tracker.sim/api/v1';
export const WORKSPACE = 'ws-sim';
export const PROJECT = 'proj-sim';

/** The workflow states of the simulated tracker's project: the ones conveyor understands by default, and two of its own. */
export const TRACKER_STATES: TrackerStateMap = {
  ...defaultTrackerRouting.states,
  'state-in-review': { group: 'started', meaning: 'other', name: 'In Review' },
  'state-deploying': { group: 'started', meaning: 'other', name: 'Deploying' },
};

export type TrackerStateId = 'state-in-progress' | 'state-approved' | 'state-blocked';

interface Issue {
  id: string;
  repo: string;
  stateId: string;
  updatedAt: number;
}

/** One state write the tracker performed for conveyor, and which of conveyor's boots sent it. */
export interface PerformedWrite {
  issueId: string;
  stateId: string;
  boot: number;
  /** The mirror's journal key of the change this write is for, as the sending boot had it on record; null if none. */
  key: string | null;
}

/** What the tracker asks the conveyor that sends a write: the mirror's record in flight for the issue. */
export type KeyOf = (issueId: string, stateId: string) => string | null;

/**
 * A Plane-like tracker in memory: issues a product owner moves (each move a webhook), the REST API the
 * reconciler polls and the status mirror and progress comments write through, with the forge's faults
 * (503, timeout, lost answer) and rate limits (429 with Retry-After). A state write it performs is sent as
 * a webhook too, as Plane does, and remembered with the boot that sent it, for the invariants.
 */
export class SimTracker {
  readonly #issues = new Map<string, Issue>();
  #updates = 0;
  #comments = 0;
  readonly performed: PerformedWrite[] = [];
  readonly stats = { stateWrites: 0, comments: 0, commentEdits: 0, polls: 0 };

  constructor(
    private readonly clock: SimClock,
    private readonly random: SimRandom,
    private readonly faults: Faults,
    private readonly hooks: Webhooks,
    private readonly note: (line: string) => void = () => undefined,
  ) {}

  /** Someone moves an issue to a state in the tracker's UI: the issue changes and a webhook goes out. */
  move(issueId: string, repo: string, stateId: TrackerStateId, by: string): void {
    const issue = this.#issues.get(issueId) ?? { id: issueId, repo, stateId, updatedAt: 0 };
    this.#issues.set(issueId, issue);
    this.#set(issue, stateId, by);
  }

  stateOf(issueId: string): string | null {
    return this.#issues.get(issueId)?.stateId ?? null;
  }

  /** The tracker's REST API as one conveyor process sees it; `keyOf` names the change a state write is for. */
  readonly fetch = (alive: () => boolean, boot: number, keyOf: KeyOf): typeof fetch =>
    simFetch({ clock: this.clock, random: this.random, faults: this.faults, alive, answer: (method, url, body) => this.#answer(method, `${url.pathname}${url.search}`, body, boot, keyOf) });

  #set(issue: Issue, stateId: string, by: string): void {
    issue.stateId = stateId;
    // Plane stamps every change; a delivery is told from a retry by the change itself.
    issue.updatedAt = this.clock.now() + ++this.#updates;
    const state = TRACKER_STATES[stateId]!;
    this.hooks.send('tracker', 'issue', {
      event: 'issue', action: 'updated', webhook_id: 'wh-sim', workspace_id: WORKSPACE,
      data: { id: issue.id, name: `Issue ${issue.id}`, project: PROJECT, state: { id: stateId, name: state.name, group: state.group }, updated_at: new Date(issue.updatedAt).toISOString(), repo: issue.repo },
      activity: { field: 'state', actor: { display_name: by } },
    });
  }

  #answer(method: string, path: string, body: Record<string, unknown>, boot: number, keyOf: KeyOf): Response {
    const base = `/api/v1/workspaces/${WORKSPACE}/projects/${PROJECT}`;
    if (!path.startsWith(`${base}/`)) return json(404, { detail: `sim: no route ${method} ${path}` });
    const rest = path.slice(base.length);
    if (rest === '/states/' && method === 'GET') {
      return json(200, { results: Object.entries(TRACKER_STATES).map(([id, s]) => ({ id, name: s.name ?? id, group: s.group })) });
    }
    if (rest.startsWith('/issues/?') && method === 'GET') {
      this.stats.polls++;
      const state = new URLSearchParams(rest.slice('/issues/?'.length)).get('state');
      const results = [...this.#issues.values()].filter((i) => i.stateId === state).map((i) => ({
        id: i.id, name: `Issue ${i.id}`, project: PROJECT, state: i.stateId, updated_at: new Date(i.updatedAt).toISOString(), repo: i.repo,
      }));
      return json(200, { results, next_page_results: false, next_cursor: null });
    }
    const issueMatch = /^\/issues\/([^/]+)\/(comments\/(?:([^/]+)\/)?)?$/.exec(rest);
    const issue = issueMatch ? this.#issues.get(decodeURIComponent(issueMatch[1]!)) : undefined;
    if (!issueMatch || !issue) return json(404, { detail: 'sim: no such issue' });
    if (!issueMatch[2] && method === 'PATCH' && typeof body.state === 'string' && Object.hasOwn(TRACKER_STATES, body.state)) {
      this.stats.stateWrites++;
      const write = { issueId: issue.id, stateId: body.state, boot, key: keyOf(issue.id, body.state) };
      this.performed.push(write);
      this.note(`tracker: ${issue.id} set to ${body.state} by boot ${boot} for ${write.key ?? 'no recorded change'}`);
      this.#set(issue, body.state, 'conveyor');
      return json(200, { id: issue.id, state: body.state });
    }
    if (issueMatch[2] && !issueMatch[3] && method === 'POST') {
      this.stats.comments++;
      return json(201, { id: `comment-${++this.#comments}` });
    }
    if (issueMatch[3] && method === 'PATCH') {
      this.stats.commentEdits++;
      return json(200, { id: issueMatch[3] });
    }
    return json(400, { detail: `sim: ${method} ${path} is not understood` });
  }
}
