import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { defaultPipeline } from '../../machines/index.ts';
import type { PipelineDefinition } from '../../machines/index.ts';
import { CROSS_FIELD, configSchema, configShapeSchema, crossFieldIssues } from './schema.ts';
import type { ConveyorConfig } from './schema.ts';

/** A configuration with defaults applied, or every problem found, one message each. */
export type ConfigResult = { ok: true; config: ConveyorConfig } | { ok: false; errors: string[] };

type Path = readonly PropertyKey[];
type Issue = z.core.$ZodIssue;

const line = (path: Path, expected: string, got: string): string =>
  `config: ${path.length === 0 ? '(top level)' : path.map(String).join('.')}: ${expected} (got ${got})`;

/** What a value is, briefly, for the "(got ...)" part of a message. */
function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty array' : 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}..."` : text;
}

const A_TYPE: Record<string, string> = { int: 'an integer', array: 'an array', object: 'an object', record: 'an object' };
const aType = (name: string): string => A_TYPE[name] ?? `a ${name}`;

function unwrap(node: z.core.$ZodType | undefined): z.core.$ZodType | undefined {
  let at = node;
  while (at instanceof z.ZodOptional || at instanceof z.ZodDefault || at instanceof z.ZodPrefault) at = at.unwrap();
  return at;
}

/** The keys the schema allows at a path, so an unknown key's message can list them. */
function keysAt(path: Path): string[] {
  let at = unwrap(configShapeSchema);
  for (const segment of path) {
    if (at instanceof z.ZodObject) at = unwrap(at.shape[String(segment)]);
    else if (at instanceof z.ZodArray) at = unwrap(at.element);
    else if (at instanceof z.ZodRecord) at = unwrap(at.valueType);
    else return [];
  }
  return at instanceof z.ZodObject ? Object.keys(at.shape) : [];
}

/** Whether a union branch failed only because the value is of another type altogether. */
const wrongTypeOnly = (issues: Issue[]): boolean => issues.every((i) => i.code === 'invalid_type' && i.path.length === 0);

function expectedOf(issue: Issue): string {
  switch (issue.code) {
    case 'invalid_type':
      return aType(issue.expected);
    case 'too_small':
    case 'too_big': {
      const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      const op = issue.code === 'too_small' ? '>=' : '<=';
      if (issue.origin === 'string') return issue.code === 'too_small' && bound === 1 ? 'a non-empty string' : `a string of length ${op} ${bound}`;
      if (issue.origin === 'array') return `${issue.code === 'too_small' ? 'at least' : 'at most'} ${bound} ${bound === 1 ? 'entry' : 'entries'}`;
      // Every number in the configuration is an integer.
      return `an integer ${op} ${bound}`;
    }
    case 'invalid_format':
      if (issue.format === 'url') return 'an http(s) URL';
      return issue.format === 'regex' ? issue.message : `a ${issue.format}`;
    case 'invalid_value':
      return `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return issue.message;
  }
}

/** One or more messages for one issue; unions and unknown keys may stand for several problems. */
function messages(issue: Issue, base: Path): string[] {
  const path = [...base, ...issue.path];
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = keysAt(path.filter((p) => typeof p !== 'symbol'));
      const input = (issue.input ?? {}) as Record<string, unknown>;
      return issue.keys.map((key) => line([...path, key], `unknown key; expected one of ${known.join(', ')}`, describe(input[key])));
    }
    case 'invalid_union': {
      // A value of the right type for one branch is explained by that branch; otherwise list what each branch takes.
      const fitting = issue.errors.find((branch) => !wrongTypeOnly(branch));
      if (fitting) return fitting.flatMap((inner) => messages(inner, path));
      const expected = issue.errors.flatMap((branch) => branch.map(expectedOf));
      return [line(path, `expected ${[...new Set(expected)].join(' or ')}`, describe(issue.input))];
    }
    case 'invalid_key':
      return [line(path, `expected a key that is ${issue.issues.map(expectedOf).join(' and ')}`, `key ${describe(issue.input)}`)];
    case 'custom': {
      const got = issue.params?.[CROSS_FIELD] as string | undefined;
      return [line(path, `expected ${issue.message}`, got ?? describe(issue.input))];
    }
    default:
      return [line(path, `expected ${expectedOf(issue)}`, describe(issue.input))];
  }
}

/** Validates parsed JSON as a configuration, applying defaults; every problem is reported, not just the first. */
export function parseConfig(data: unknown): ConfigResult {
  const parsed = configSchema.safeParse(data, { reportInput: true });
  if (parsed.success) return { ok: true, config: parsed.data };
  const errors = parsed.error.issues.flatMap((issue) => messages(issue, []));
  // zod skips the refinement when the shape is wrong; run the relations on the raw input so they are reported too.
  if (!parsed.error.issues.some((issue) => issue.code === 'custom' && issue.params?.[CROSS_FIELD] !== undefined)) {
    for (const issue of crossFieldIssues(data)) errors.push(line(issue.path, `expected ${issue.expected}`, issue.got));
  }
  return { ok: false, errors };
}

const READ_FAILURES: Record<string, string> = { ENOENT: 'no such file', EISDIR: 'it is a directory', EACCES: 'permission denied' };

/** Reads and validates a configuration file; a missing file or bad JSON is an error naming the path (and line and column). */
export function loadConfig(path: string): ConfigResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    return { ok: false, errors: [`config: cannot read ${path}: ${READ_FAILURES[code] ?? (error as Error).message}`] };
  }
  // Editors on some systems save a byte order mark, which JSON.parse rejects.
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    const reason = (error as Error).message.replace(/(, (\.\.\.)?".*" is not valid JSON|( in JSON)? at position \d+.*)$/s, '');
    const at = jsonErrorPosition(text);
    const before = text.slice(0, at);
    const lineNo = before.split('\n').length;
    const column = at - before.lastIndexOf('\n');
    return { ok: false, errors: [`config: ${path}: invalid JSON at line ${lineNo}, column ${column}: ${reason}`] };
  }
  return parseConfig(data);
}

const STRING_BODY = /(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*/y;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const WORDS: Record<string, string> = { t: 'true', f: 'false', n: 'null' };

/** Index of the first character that breaks the JSON grammar (V8 does not always say where). */
function jsonErrorPosition(text: string): number {
  let i = 0;
  const ws = (): void => {
    while (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r') i++;
  };
  const match = (re: RegExp): boolean => {
    re.lastIndex = i;
    if (!re.test(text)) return false;
    i = re.lastIndex;
    return true;
  };
  const eat = (char: string): boolean => {
    if (text[i] !== char) return false;
    i++;
    return true;
  };
  const string = (): boolean => {
    if (!eat('"')) return false;
    match(STRING_BODY);
    return eat('"');
  };
  const items = (close: string, item: () => boolean): boolean => {
    i++;
    ws();
    if (eat(close)) return true;
    for (;;) {
      if (!item()) return false;
      ws();
      if (eat(close)) return true;
      if (!eat(',')) return false;
      ws();
    }
  };
  const member = (): boolean => {
    if (!string()) return false;
    ws();
    return eat(':') && value();
  };
  const value = (): boolean => {
    ws();
    if (text[i] === '{') return items('}', member);
    if (text[i] === '[') return items(']', value);
    if (text[i] === '"') return string();
    const word = WORDS[text[i] ?? ''];
    if (word === undefined) return match(NUMBER);
    // Like the parser, blame the first character that departs from the word, not the word's start.
    for (const char of word) if (!eat(char)) return false;
    return true;
  };
  try {
    if (value()) ws();
  } catch {
    // Nesting deep enough to overflow the stack: point at the start rather than fail.
    return 0;
  }
  return Math.min(i, text.length);
}

/** The default pipeline with the configuration's stage overrides and limits applied. */
export function pipelineFromConfig(config: ConveyorConfig): PipelineDefinition {
  const overrides = config.pipeline.stages;
  const timeouts = [...Object.values(config.agents), ...Object.values(overrides)].flatMap((t) => (t.timeoutMs === undefined ? [] : [t.timeoutMs]));
  return {
    stages: defaultPipeline.stages.map((stage) => {
      const agent = overrides[stage.id]?.agent;
      return { ...stage, effects: [...stage.effects], agent: agent === undefined ? stage.agent : agent };
    }),
    maxRetries: config.limits.maxRetries,
    maxJobAttempts: config.limits.maxJobAttempts,
    // The hard ceiling of a job must cover the longest timeout any stage or agent is given.
    jobTimeoutMs: timeouts.length === 0 ? defaultPipeline.jobTimeoutMs : Math.max(...timeouts),
    baseBackoffMs: config.limits.baseBackoffMs,
    gateTimeoutMs: defaultPipeline.gateTimeoutMs,
    prepareTimeoutMs: config.limits.prepareTimeoutMs,
    effectTimeoutMs: config.limits.effectTimeoutMs,
  };
}

/** The timeout of one stage's job: the stage's override, else its agent's, else the pipeline's ceiling. */
export function stageTimeoutMs(config: ConveyorConfig, stageId: string): number {
  const agent = pipelineFromConfig(config).stages.find((s) => s.id === stageId)?.agent;
  const own = config.pipeline.stages[stageId]?.timeoutMs ?? (agent ? config.agents[agent]?.timeoutMs : undefined);
  return own ?? pipelineFromConfig(config).jobTimeoutMs;
}
