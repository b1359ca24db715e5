import { clip, jsonObject, markedQuestion, num, rec, str, type AgentKind, type ParsedActivity } from './types.ts';

// Codex's `codex exec --json <prompt>`, as of codex-cli 0.66 (codex-rs/exec/src/exec_events.rs): JSONL
// events thread.started {thread_id}, turn.started, turn.completed {usage}, turn.failed {error},
// item.started / item.updated / item.completed {item}, error {message}. Items are agent_message,
// reasoning, command_execution, file_change, mcp_tool_call, web_search, todo_list and error. A retry
// resumes with `codex exec --json resume <thread id> <prompt>`. Codex reports tokens, not cost. Codex has no
// way to ask a person: an agent message with a `QUESTION:` line is its question.

function itemStarted(item: Record<string, unknown>): ParsedActivity[] {
  switch (item.type) {
    case 'command_execution':
      return [{ kind: 'tool', tool: 'shell', ...(str(item.command) ? { target: clip(item.command as string, 300) } : {}) }];
    case 'mcp_tool_call': {
      const tool = [str(item.server), str(item.tool)].filter(Boolean).join('.') || 'mcp';
      return [{ kind: 'tool', tool }];
    }
    case 'web_search':
      return [{ kind: 'tool', tool: 'web_search', ...(str(item.query) ? { target: clip(item.query as string, 300) } : {}) }];
    default:
      return [];
  }
}

function itemCompleted(item: Record<string, unknown>): ParsedActivity[] {
  switch (item.type) {
    case 'agent_message':
      return str(item.text) ? [{ kind: 'text', text: clip(item.text as string) }, ...markedQuestion(item.text as string)] : [];
    case 'file_change':
      return (Array.isArray(item.changes) ? item.changes : []).flatMap((c) => {
        const path = str(rec(c).path);
        return path ? [{ kind: 'file' as const, tool: str(rec(c).kind) ?? 'update', path }] : [];
      });
    case 'command_execution':
      return item.status === 'failed' || (typeof item.exit_code === 'number' && item.exit_code !== 0)
        ? [{ kind: 'error', tool: 'shell', text: clip(`${str(item.command) ?? 'a command'} failed${typeof item.exit_code === 'number' ? ` with exit code ${item.exit_code}` : ''}`) }]
        : [];
    case 'mcp_tool_call':
      return item.status === 'failed' ? [{ kind: 'error', text: clip(`${str(item.tool) ?? 'an MCP tool'} failed`) }] : [];
    case 'error':
      return [{ kind: 'error', text: clip(str(item.message) ?? 'error') }];
    default:
      return [];
  }
}

/** Codex (`codex exec`), with its JSONL events; a retry resumes the thread with `resume <id>`. */
export const codex: AgentKind = {
  name: 'codex',
  defaultCommand: ['codex', 'exec'],
  argv: (command, prompt, resumeSession) => [...command, '--json', ...(resumeSession ? ['resume', resumeSession] : []), prompt],
  parse(line) {
    const event = jsonObject(line);
    if (!event) return [];
    switch (event.type) {
      case 'thread.started': {
        const session = str(event.thread_id);
        return session ? [{ kind: 'session', session }] : [];
      }
      case 'item.started':
        return itemStarted(rec(event.item));
      case 'item.completed':
        return itemCompleted(rec(event.item));
      case 'turn.completed': {
        const usage = rec(event.usage);
        return [
          { kind: 'result', text: 'turn completed', isError: false },
          { kind: 'usage', usage: { mode: 'add', inputTokens: num(usage.input_tokens), outputTokens: num(usage.output_tokens), cacheReadTokens: num(usage.cached_input_tokens), cacheWriteTokens: 0, costUsd: null } },
        ];
      }
      case 'turn.failed':
        return [{ kind: 'result', isError: true, text: clip(str(rec(event.error).message) ?? 'turn failed') }];
      case 'error':
        return [{ kind: 'error', text: clip(str(event.message) ?? 'error') }];
      default:
        return [];
    }
  },
};
