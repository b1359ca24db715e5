import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMachine, type AnyStateNode, type StateValue } from 'xstate';
import type { TaskView } from '../../actors/index.ts';
import { compileTaskMachine, defaultPipeline, supervisor, sweepLoop } from '../../machines/index.ts';
import { activeStateIds, renderChartSvg, type ChartableMachine } from '../../server/chart/index.ts';
import { REPO, expectError, makeTestApp, waitForState, type TestApp } from '../support/http-fixtures.ts';

const task = compileTaskMachine();

/** Asserts the document is well-formed XML: every tag well-formed and closed in order, no bare `&` in text. */
function expectWellFormed(svg: string): void {
  expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
  const tag = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<>]*")*)\s*(\/?)>/y;
  const stack: string[] = [];
  let text = '';
  let i = 0;
  while (i < svg.length) {
    const lt = svg.indexOf('<', i);
    text += svg.slice(i, lt < 0 ? undefined : lt);
    if (lt < 0) break;
    tag.lastIndex = lt;
    const m = tag.exec(svg);
    expect(m, `malformed tag at ${lt}: ${svg.slice(lt, lt + 80)}`).not.toBeNull();
    const [, close, name, , selfClosing] = m!;
    if (close) expect(stack.pop(), `</${name}> closes the wrong element`).toBe(name);
    else if (!selfClosing) stack.push(name!);
    i = tag.lastIndex;
  }
  expect(stack).toEqual([]);
  expect(text).not.toMatch(/&(?!#\d+;|amp;|lt;|gt;|quot;|apos;)/);
  expect(svg).not.toMatch(/NaN|Infinity|undefined/);
}

interface StateBox { id: string; classes: string[]; active: boolean; body: string }
interface Edge { source: string; target: string; events: string; body: string }

function boxes(svg: string): Map<string, StateBox> {
  const out = new Map<string, StateBox>();
  for (const m of svg.matchAll(/<g class="(cv-state[^"]*)" data-id="([^"]*)" data-active="(true|false)">([\s\S]*?)<\/g>/g)) {
    out.set(m[2]!, { id: m[2]!, classes: m[1]!.split(' '), active: m[3] === 'true', body: m[4]! });
  }
  return out;
}

function edges(svg: string): Edge[] {
  return [...svg.matchAll(/<g class="cv-edge" data-source="([^"]*)" data-target="([^"]*)" data-events="([^"]*)">([\s\S]*?)<\/g>/g)].map((m) => ({
    source: m[1]!, target: m[2]!, events: m[3]!, body: m[4]!,
  }));
}

/** Every state node of a machine, read from xstate itself rather than from the chart code. */
function stateNodes(node: AnyStateNode): AnyStateNode[] {
  return [node, ...Object.values(node.states).flatMap(stateNodes)];
}

const highlighted = (svg: string) => [...boxes(svg).values()].filter((b) => b.active).map((b) => b.id).sort();
const strongest = (svg: string) => [...boxes(svg).values()].filter((b) => b.classes.includes('cv-active-leaf')).map((b) => b.id).sort();
const chartAt = (machine: ChartableMachine, value: StateValue) => renderChartSvg(machine, { active: activeStateIds(machine, value) });

describe('task machine chart', () => {
  const svg = renderChartSvg(task);

  it('is a well-formed SVG document', () => {
    expectWellFormed(svg);
  });

  it('draws a labelled box for every state node of the machine', () => {
    const drawn = boxes(svg);
    const nodes = stateNodes(task.root);
    expect(nodes.length).toBeGreaterThan(50);
    for (const node of nodes) {
      const box = drawn.get(node.id);
      expect(box, `no box for ${node.id}`).toBeDefined();
      expect(box!.body, `box of ${node.id} is not labelled`).toContain(`>${node.type === 'history' ? 'H*' : node.key}</text>`);
    }
    expect(drawn.size).toBe(nodes.length);
  });

  it('names every stage, every substate and every state around the stages', () => {
    const labels = [...boxes(svg).values()].map((b) => b.body);
    const named = (key: string) => labels.some((body) => body.includes(`>${key}</text>`));
    for (const stage of defaultPipeline.stages) expect(named(stage.id), stage.id).toBe(true);
    for (const key of ['preparing', 'working', 'queued', 'running', 'retrying', 'gating', 'mergePullRequest', 'deployStaging', 'deployProduction', 'backoff']) {
      expect(named(key), key).toBe(true);
    }
    for (const key of ['onHold', 'escalated', 'recovery', 'awaitingAck', 'stillDivergent', 'done', 'cancelled']) expect(named(key), key).toBe(true);
  });

  it('draws transitions as arrows labelled with their event names', () => {
    const all = edges(svg);
    const find = (source: string, target: string) => all.find((e) => e.source === source && e.target === target);
    const prepared = find('task.active.review.preparing', 'task.active.review.working');
    expect(prepared?.events).toBe('stage.prepared');
    expect(prepared?.body).toContain('>stage.prepared</text>');
    expect(prepared?.body).toMatch(/<path d="M[^"]+" [^>]*marker-end="url\(#cv-arrow-\d+\)"/);
    expect(find('task.active.review.working', 'task.active.review.gating')?.body).toContain('>job.exited</text>');
    // The runner's own failure (the invoke's onError) is drawn with the agent's exit it shares a target with.
    expect(find('task.active.review.working', 'task.escalated')?.events).toBe('job.exited error: job');
    expect(find('task.escalated', 'task.active.review')?.events).toBe('task.retry');
    expect(find('task', 'task.cancelled')?.events).toBe('task.cancel');
    expect(find('task.onHold', 'task.active.hist')?.events).toBe('task.resume');
    // Eventless transitions are drawn too: a gate's way on to the next stage is one.
    expect(find('task.active.review.gating', 'task.active.testing')?.events).toMatch(/^always/);
  });

  it('draws no self-loops, no targetless transitions and one arrow per pair of states', () => {
    const all = edges(svg);
    expect(all.length).toBeGreaterThan(80);
    expect(all.filter((e) => e.source === e.target)).toEqual([]);
    expect(all.some((e) => e.events.includes('ci.status') || e.events.includes('pr.opened'))).toBe(false);
    const pairs = all.map((e) => `${e.source}->${e.target}`);
    expect(new Set(pairs).size).toBe(pairs.length);
  });

  it('joins the events of transitions between the same two states into one label', () => {
    const m = createMachine({ id: 'm', initial: 'a', states: { a: { on: { GO: 'b', ALSO: 'b', STAY: {} }, always: { guard: 'ready', target: 'b' } }, b: {} } });
    const svgAt = renderChartSvg(m);
    expect(edges(svgAt).map((e) => [e.source, e.target, e.events])).toEqual([['m.a', 'm.b', 'GO ALSO always [ready]']]);
    expect(svgAt).toContain('>GO, ALSO, always [ready]</text>');
  });

  it('highlights exactly the active path of a snapshot value, the innermost state most strongly', () => {
    const at = chartAt(task, { active: { review: 'gating' } });
    expectWellFormed(at);
    expect(highlighted(at)).toEqual(['task.active', 'task.active.review', 'task.active.review.gating']);
    expect(strongest(at)).toEqual(['task.active.review.gating']);
    const gating = boxes(at).get('task.active.review.gating')!;
    expect(gating.classes).toEqual(['cv-state', 'cv-active', 'cv-active-leaf']);
    expect(gating.body).toMatch(/stroke-width="4"/);
    expect(boxes(at).get('task.active.development.gating')!.classes).toEqual(['cv-state']);
  });

  it('highlights a nested state and its three containers', () => {
    const at = chartAt(task, { active: { development: { working: 'running' } } });
    expect(highlighted(at)).toEqual(['task.active', 'task.active.development', 'task.active.development.working', 'task.active.development.working.running']);
    expect(strongest(at)).toEqual(['task.active.development.working.running']);
  });

  it('highlights a state outside the pipeline, and nothing without a snapshot', () => {
    expect(highlighted(chartAt(task, { recovery: 'stillDivergent' }))).toEqual(['task.recovery', 'task.recovery.stillDivergent']);
    expect(highlighted(chartAt(task, 'escalated'))).toEqual(['task.escalated']);
    expect(highlighted(svg)).toEqual([]);
  });

  it('skips state names the machine does not have', () => {
    expect([...activeStateIds(task, { active: { nowhere: 'gating' }, gone: 'x' } as StateValue)]).toEqual(['task.active']);
  });
});

describe('charts of other machines', () => {
  it('draws the supervisor with its parallel regions and highlights one state in each', () => {
    const at = chartAt(supervisor, { reconciler: 'running', reaper: 'backoff', health: 'degraded' });
    expectWellFormed(at);
    for (const node of stateNodes(supervisor.root)) expect(boxes(at).has(node.id), node.id).toBe(true);
    expect(strongest(at)).toEqual(['supervisor.health.degraded', 'supervisor.reaper.backoff', 'supervisor.reconciler.running']);
    expect(boxes(at).get('supervisor.health')!.body).toContain('stroke-dasharray');
    expect(edges(at).find((e) => e.source === 'supervisor.reaper.running' && e.target === 'supervisor.reaper.crashed')?.events).toBe('error: reaper');
  });

  it('draws the sweep loop with its eventless start and the kill switch of the whole machine', () => {
    const svg = renderChartSvg(sweepLoop);
    expectWellFormed(svg);
    for (const node of stateNodes(sweepLoop.root)) expect(boxes(svg).has(node.id), node.id).toBe(true);
    const find = (s: string, t: string) => edges(svg).find((e) => e.source === s && e.target === t)?.events;
    expect(find('sweepLoop.starting', 'sweepLoop.idle')).toBe('always');
    expect(find('sweepLoop.sweeping', 'sweepLoop.idle')).toBe('done: sweep error: sweep');
    expect(find('sweepLoop', 'sweepLoop.disabled')).toBe('loop.disable');
  });

  it('escapes state names, event names and the title', () => {
    const odd = createMachine({ id: 'odd', initial: 'a<b', states: { 'a<b': { on: { 'go&"now"': 'c>d' } }, 'c>d': {} } });
    const svg = renderChartSvg(odd, { title: `<script>alert("x")</script>` });
    expectWellFormed(svg);
    expect(svg).not.toContain('<script');
    expect(svg).toContain('&#60;script&#62;');
    expect(svg).toContain('>a&#60;b</text>');
    expect(svg).toContain('>go&#38;&#34;now&#34;</text>');
  });

  it('draws a machine without states as one box', () => {
    const svg = renderChartSvg(createMachine({ id: 'alone' }));
    expectWellFormed(svg);
    expect([...boxes(svg).keys()]).toEqual(['alone']);
  });
});

describe('chart and console routes', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await makeTestApp();
  });
  afterEach(async () => {
    await t.close();
  });

  it('serves every machine chart as image/svg+xml', async () => {
    for (const id of ['task', 'supervisor', 'sweepLoop']) {
      const res = await t.api('GET', `/machines/${id}/chart.svg`);
      expect(res.status, id).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
      const svg = await res.text();
      expectWellFormed(svg);
      expect(boxes(svg).has(id)).toBe(true);
    }
  });

  it('draws a task on the task machine with its current state highlighted', async () => {
    const created = await t.api('POST', '/tasks', { repo: REPO, title: 'Add <search>' });
    const { task: view } = (await created.json()) as { task: TaskView };
    await waitForState(t.conveyor, view.id, 'analysis.gating');
    const res = await t.api('GET', `/tasks/${view.id}/chart.svg`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
    const svg = await res.text();
    expectWellFormed(svg);
    expect(highlighted(svg)).toEqual(['task.active', 'task.active.analysis', 'task.active.analysis.gating']);
    expect(svg).toContain('Add &#60;search&#62;');
  });

  it('answers 404 with the error shape for an unknown task or machine', async () => {
    await expectError(await t.api('GET', '/tasks/T-nope/chart.svg'), 404, 'not_found', 'id');
    await expectError(await t.api('GET', '/machines/nope/chart.svg'), 404, 'not_found', 'id');
    await expectError(await t.api('GET', '/machines/constructor/chart.svg'), 404, 'not_found', 'id');
  });

  it('refuses chart routes without the token with 401', async () => {
    await expectError(await t.api('GET', '/machines/task/chart.svg', undefined, ''), 401, 'unauthorized');
    await expectError(await t.api('GET', '/tasks/T-1/chart.svg', undefined, ''), 401, 'unauthorized');
  });

  it('serves the console page without a token, loading only its own assets under a strict policy', async () => {
    const res = await t.app.request('/console');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toMatch(/^<!doctype html>/i);
    expect(html).not.toMatch(/https?:|@import|url\(|<script>/i);
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) expect(ref).toMatch(/^\/console\/assets\/[\w.-]+$/);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
  });

  it('serves every asset the page names with its content type and an ETag, and 404 for an unknown one', async () => {
    const html = await (await t.app.request('/console')).text();
    for (const [, ref] of html.matchAll(/(?:src|href)="([^"]+)"/g)) {
      const res = await t.app.request(ref!);
      expect(res.status, ref).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^(text\/javascript|text\/css|image\/svg\+xml)/);
      const etag = res.headers.get('etag')!;
      expect(etag).toMatch(/^"[\w-]+"$/);
      expect((await t.app.request(ref!, { headers: { 'if-none-match': etag } })).status).toBe(304);
    }
    const main = await (await t.app.request('/console/assets/main.js')).text();
    expect(main).toMatch(/import .* from '\.\/[\w-]+\.js'/);
    await expectError(await t.app.request('/console/assets/nope.js'), 404, 'not_found', 'name');
    expect((await t.app.request('/console/assets/..%2Fconsole-app.ts')).status).toBe(404);
  });
});
