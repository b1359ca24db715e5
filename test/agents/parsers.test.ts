import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { claudeCode, codex, type AgentKind, type ParsedActivity } from '../../actors/agents/index.ts';
import { CLAUDE_QUESTION_TRANSCRIPT, CLAUDE_SESSION, CLAUDE_TRANSCRIPT, CODEX_THREAD, CODEX_TRANSCRIPT } from '../support/fake-agent.ts';

const linesOf = (path: string) => readFileSync(path, 'utf8').split('\n').filter(Boolean);
const parseAll = (kind: AgentKind, lines: string[]): ParsedActivity[] => lines.flatMap((l) => kind.parse(l));
const brief = (p: ParsedActivity) => [p.kind, p.tool ?? '', p.target ?? p.path ?? p.session ?? p.text ?? ''].join(' ').trim();

describe('the claude-code kind', () => {
  it('starts claude non-interactively reading user messages on stdin, and resumes a session when it has one', () => {
    const streaming = ['-p', '--input-format', 'stream-json', '--output-format', 'stream-json', '--verbose', '--replay-user-messages'];
    expect(claudeCode.argv(['claude', '--permission-mode', 'acceptEdits'], 'Fix it', null)).toEqual(['claude', '--permission-mode', 'acceptEdits', ...streaming]);
    expect(claudeCode.argv(['claude'], 'Again', 'abc')).toEqual(['claude', ...streaming, '--resume', 'abc']);
    // The prompt, and every later word to the running session, is a user message on stdin.
    expect(JSON.parse(claudeCode.input!.message('Fix it'))).toEqual({ type: 'user', message: { role: 'user', content: [{ type: 'text', text: 'Fix it' }] }, parent_tool_use_id: null, session_id: '' });
    expect(claudeCode.input!.message('two\nlines')).not.toContain('\n');
  });

  it('reads a user message it replays (what it was told while it ran) as input, and a tool result as nothing', () => {
    const replayed = JSON.stringify({ type: 'user', message: { role: 'user', content: [{ type: 'text', text: 'sam asks: also handle an empty input' }] }, session_id: 's1', isReplay: true });
    expect(claudeCode.parse(replayed)).toEqual([{ kind: 'input', text: 'sam asks: also handle an empty input' }]);
    expect(claudeCode.parse(JSON.stringify({ type: 'user', message: { role: 'user', content: 'plain words' } }))).toEqual([{ kind: 'input', text: 'plain words' }]);
    expect(claudeCode.parse(JSON.stringify({ type: 'user', message: { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: 'ok' }] } }))).toEqual([]);
  });

  it('reads its stream-json as session, text, tools with their targets, files touched, tool errors, the result and the spend', () => {
    const parsed = parseAll(claudeCode, linesOf(CLAUDE_TRANSCRIPT));
    expect(parsed.map(brief)).toEqual([
      `session  ${CLAUDE_SESSION}`,
      "text  I'll start by reading the parser.",
      'tool Read src/parser.ts',
      'text  The loop stops one character short. Fixing it.',
      'tool Edit src/parser.ts',
      'file Edit src/parser.ts',
      'tool Bash npm test',
      'error  Exit code 1\nFAIL test/parser.test.ts > parses the last character',
      'text  One test still fails: the fixture ends with a newline.',
      'tool Write test/fixtures/last-char.txt',
      'file Write test/fixtures/last-char.txt',
      "tool Bash git commit -am 'Parse the last character' && git push",
      'text  Fixed the off-by-one in parse() and pushed the branch.',
      `session  ${CLAUDE_SESSION}`,
      'result  Fixed the off-by-one in parse() and pushed the branch.',
      'usage',
    ]);
    expect(parsed.at(-1)?.usage).toEqual({ mode: 'total', inputTokens: 36, outputTokens: 412, cacheReadTokens: 96332, cacheWriteTokens: 6942, costUsd: 0.18734 });
    expect(parsed.at(-2)?.isError).toBe(false);
  });

  it('reads a question the run could not ask (AskUserQuestion, denied in print mode) as a question with its options', () => {
    const parsed = parseAll(claudeCode, linesOf(CLAUDE_QUESTION_TRANSCRIPT));
    expect(parsed.map(brief)).toEqual([
      `session  ${CLAUDE_SESSION}`,
      'text  The issue does not say whether a trailing newline counts as the last character.',
      'tool AskUserQuestion',
      "error  Claude requested permissions to use AskUserQuestion, but you haven't granted it yet.",
      'text  I need to know whether a trailing newline counts before I change parse().',
      `session  ${CLAUDE_SESSION}`,
      'result  I need to know whether a trailing newline counts before I change parse().',
      'question  Does a trailing newline count as the last character?',
      'usage',
    ]);
    expect(parsed.find((p) => p.kind === 'question')?.options).toEqual(['Count it', 'Skip it']);
  });

  it('reads a final result with a QUESTION: line as a question', () => {
    const line = JSON.stringify({ type: 'result', subtype: 'success', is_error: false, session_id: 's1', result: 'Two parsers exist.\nQUESTION: Which one should I change, src/parser.ts or lib/parse.ts?', usage: {} });
    expect(claudeCode.parse(line).filter((p) => p.kind === 'question')).toEqual([{ kind: 'question', text: 'Which one should I change, src/parser.ts or lib/parse.ts?' }]);
  });

  it('says an errored run failed', () => {
    const line = JSON.stringify({ type: 'result', subtype: 'error_max_turns', is_error: true, session_id: 's1', total_cost_usd: 0.5, usage: {} });
    expect(claudeCode.parse(line).find((p) => p.kind === 'result')).toEqual({ kind: 'result', text: 'ended with error_max_turns', isError: true });
  });
});

describe('the codex kind', () => {
  it('starts codex exec with --json and the prompt, and resumes a thread with exec resume; it takes no input while it runs', () => {
    expect(codex.input).toBeUndefined();
    expect(codex.argv(['codex', 'exec', '--full-auto'], 'Fix it', null)).toEqual(['codex', 'exec', '--full-auto', '--json', 'Fix it']);
    expect(codex.argv(['codex', 'exec'], 'Again', 't-1')).toEqual(['codex', 'exec', '--json', 'resume', 't-1', 'Again']);
  });

  it('reads its JSONL events as thread, messages, commands, file changes, failures, MCP calls and turn usage', () => {
    const parsed = parseAll(codex, linesOf(CODEX_TRANSCRIPT));
    expect(parsed.map(brief)).toEqual([
      `session  ${CODEX_THREAD}`,
      `tool shell bash -lc 'rg -n "export function parse" src'`,
      'text  The loop stops one character short; fixing it.',
      'file update src/parser.ts',
      'file add test/fixtures/last-char.txt',
      "tool shell bash -lc 'npm test'",
      "error shell bash -lc 'npm test' failed with exit code 1",
      'tool docs.search',
      'text  Fixed the off-by-one in parse() and pushed the branch.',
      'result  turn completed',
      'usage',
    ]);
    expect(parsed.at(-1)?.usage).toEqual({ mode: 'add', inputTokens: 24763, outputTokens: 1122, cacheReadTokens: 24448, cacheWriteTokens: 0, costUsd: null });
  });

  it('reads an agent message with a QUESTION: line as its text and a question', () => {
    const line = JSON.stringify({ type: 'item.completed', item: { id: 'item_9', type: 'agent_message', text: 'Two parsers exist.\n  QUESTION: Which one should I change?' } });
    expect(codex.parse(line)).toEqual([
      { kind: 'text', text: 'Two parsers exist.\n  QUESTION: Which one should I change?' },
      { kind: 'question', text: 'Which one should I change?' },
    ]);
  });

  it('reports a failed turn and a stream error', () => {
    expect(codex.parse('{"type":"turn.failed","error":{"message":"stream disconnected"}}')).toEqual([{ kind: 'result', isError: true, text: 'stream disconnected' }]);
    expect(codex.parse('{"type":"error","message":"quota exceeded"}')).toEqual([{ kind: 'error', text: 'quota exceeded' }]);
  });
});

describe('every kind', () => {
  const kinds = [
    { kind: claudeCode, transcript: CLAUDE_TRANSCRIPT },
    { kind: codex, transcript: CODEX_TRANSCRIPT },
  ];

  it.each(kinds)('$kind.name ignores what is not an event it knows, and never throws, even on every cut of every line', ({ kind, transcript }) => {
    const odd = ['', 'warning: a line on stderr', '{"type":"a.future.event","x":1}', '[1,2]', 'null', '{"type":"assistant","message":{"content":"not a list"}}', '{"type":"item.completed","item":null}', '{"type":'];
    for (const line of odd) expect(kind.parse(line)).toEqual([]);
    for (const line of linesOf(transcript)) {
      for (let cut = 0; cut < line.length; cut += 7) expect(() => kind.parse(line.slice(0, cut))).not.toThrow();
    }
  });
});
