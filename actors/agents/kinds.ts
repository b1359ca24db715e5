import { claudeCode } from './claude-code.ts';
import { codex } from './codex.ts';
import type { AgentKind } from './types.ts';

/** The agent kinds conveyor knows besides `command` (any command, output kept as it is). */
export const agentKinds: Record<AgentKind['name'], AgentKind> = { 'claude-code': claudeCode, codex };

