import { clip, jsonObject, markedQuestion, num, rec, str, type AgentKind, type ParsedActivity } from './types.ts';

// Claude Code's `claude -p --input-format stream-json --output-format stream-json --verbose
// --replay-user-messages`, as of Claude Code 2.0: user messages (the prompt, then any words for the running
// session) are JSON lines on stdin, and each is answered with a turn; stdin's end ends the run. Output is one
// JSON object a line; `system` (subtype init, with session_id), `assistant` and `user` messages whose content
// blocks are text, tool_use and tool_result (a user message of text is one it was given, replayed), and a
// `result` per turn with session_id, total_cost_usd (the session's so far),
// usage, is_error and permission_denials. Anything else is ignored. A question the run could not ask (print
// mode denies AskUserQuestion, which then shows in permission_denials) or a `QUESTION:` line in the result
// is the run's question for a person.

/** Tools whose input names a file they change. */
const EDITING_TOOLS = new Set(['Edit', 'MultiEdit', 'Write', 'NotebookEdit']);

/** What a tool worked on, from the usual names of its input. */
function targetOf(input: Record<string, unknown>): string | undefined {
  const target = str(input.file_path) ?? str(input.notebook_path) ?? str(input.path) ?? str(input.command) ?? str(input.pattern) ?? str(input.url) ?? str(input.query) ?? str(input.description);
  return target === undefined ? undefined : clip(target, 300);
}

function assistant(message: Record<string, unknown>): ParsedActivity[] {
  const out: ParsedActivity[] = [];
  for (const block of Array.isArray(message.content) ? message.content : []) {
    const b = rec(block);
    if (b.type === 'text' && str(b.text)) out.push({ kind: 'text', text: clip(b.text as string) });
    else if (b.type === 'tool_use' && str(b.name)) {
      const tool = b.name as string;
      const input = rec(b.input);
      const target = targetOf(input);
      out.push({ kind: 'tool', tool, ...(target ? { target } : {}) });
      const path = str(input.file_path) ?? str(input.notebook_path);
      if (EDITING_TOOLS.has(tool) && path) out.push({ kind: 'file', tool, path });
    }
  }
  return out;
}

/** A user message: tool results (an error among them is the run's), or words it was given (replayed). */
function userMessage(message: Record<string, unknown>): ParsedActivity[] {
  if (typeof message.content === 'string') return message.content ? [{ kind: 'input', text: clip(message.content) }] : [];
  const blocks = Array.isArray(message.content) ? message.content.map(rec) : [];
  const text = blocks.filter((b) => b.type === 'text').map((b) => str(b.text) ?? '').join('');
  return text ? [{ kind: 'input', text: clip(text) }] : toolErrors(message);
}

function toolErrors(message: Record<string, unknown>): ParsedActivity[] {
  const out: ParsedActivity[] = [];
  for (const block of Array.isArray(message.content) ? message.content : []) {
    const b = rec(block);
    if (b.type !== 'tool_result' || b.is_error !== true) continue;
    const content = typeof b.content === 'string' ? b.content : Array.isArray(b.content) ? b.content.map((c) => str(rec(c).text) ?? '').join('\n') : '';
    out.push({ kind: 'error', text: clip(content || 'a tool failed') });
  }
  return out;
}

/** The questions of a denied AskUserQuestion: their text, and the labels of the options when it asked one. */
function deniedQuestions(event: Record<string, unknown>): ParsedActivity[] {
  const denials = Array.isArray(event.permission_denials) ? event.permission_denials.map(rec) : [];
  const asked = denials.find((d) => d.tool_name === 'AskUserQuestion');
  if (!asked) return [];
  const questions = (Array.isArray(rec(asked.tool_input).questions) ? (rec(asked.tool_input).questions as unknown[]) : []).map(rec);
  const text = questions.map((q) => str(q.question)).filter(Boolean).join('\n');
  if (!text) return [];
  const options = questions.length === 1 ? (Array.isArray(questions[0]!.options) ? (questions[0]!.options as unknown[]) : []).map((o) => str(rec(o).label)).filter((l): l is string => !!l) : [];
  return [{ kind: 'question', text: clip(text), ...(options.length > 0 ? { options: options.map((o) => clip(o, 200)) } : {}) }];
}

function result(event: Record<string, unknown>): ParsedActivity[] {
  const usage = rec(event.usage);
  const isError = event.is_error === true;
  const text = str(event.result) ?? (isError ? `ended with ${str(event.subtype) ?? 'an error'}` : 'done');
  const cost = typeof event.total_cost_usd === 'number' && Number.isFinite(event.total_cost_usd) ? event.total_cost_usd : null;
  const session = str(event.session_id);
  return [
    ...(session ? [{ kind: 'session' as const, session }] : []),
    { kind: 'result', text: clip(text), isError },
    ...(deniedQuestions(event).concat(str(event.result) ? markedQuestion(event.result as string) : []).slice(0, 1)),
    {
      kind: 'usage',
      usage: {
        mode: 'total',
        inputTokens: num(usage.input_tokens),
        outputTokens: num(usage.output_tokens),
        cacheReadTokens: num(usage.cache_read_input_tokens),
        cacheWriteTokens: num(usage.cache_creation_input_tokens),
        costUsd: cost,
      },
    },
  ];
}

/** Claude Code (`claude`), print mode with its stream-json output; a retry resumes the session with `--resume`. */
export const claudeCode: AgentKind = {
  name: 'claude-code',
  defaultCommand: ['claude'],
  argv: (command, _prompt, resumeSession) => [
    ...command, '-p', '--input-format', 'stream-json', '--output-format', 'stream-json', '--verbose', '--replay-user-messages',
    ...(resumeSession ? ['--resume', resumeSession] : []),
  ],
  input: {
    message: (text) => JSON.stringify({ type: 'user', message: { role: 'user', content: [{ type: 'text', text }] }, parent_tool_use_id: null, session_id: '' }),
  },
  parse(line) {
    const event = jsonObject(line);
    if (!event) return [];
    switch (event.type) {
      case 'system': {
        const session = str(event.session_id);
        return event.subtype === 'init' && session ? [{ kind: 'session', session }] : [];
      }
      case 'assistant':
        return assistant(rec(event.message));
      case 'user':
        return userMessage(rec(event.message));
      case 'result':
        return result(event);
      default:
        return [];
    }
  },
};
