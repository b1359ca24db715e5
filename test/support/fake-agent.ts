import { fileURLToPath } from 'node:url';

/** The fake agent CLI (a real child process) and the recorded transcripts it replays. */
export const FAKE_CLI = fileURLToPath(new URL('./fake-agent-cli.mjs', import.meta.url));
export const CLAUDE_TRANSCRIPT = fileURLToPath(new URL('./transcripts/claude-code-2.0.jsonl', import.meta.url));
/** A Claude Code run that asks the user a question (AskUserQuestion), which print mode denies. */
export const CLAUDE_QUESTION_TRANSCRIPT = fileURLToPath(new URL('./transcripts/claude-code-2.0-question.jsonl', import.meta.url));
/** A Codex run that ends asking a question on a QUESTION: line. */
export const CODEX_QUESTION_TRANSCRIPT = fileURLToPath(new URL('./transcripts/codex-0.66-question.jsonl', import.meta.url));
export const CODEX_TRANSCRIPT = fileURLToPath(new URL('./transcripts/codex-0.66.jsonl', import.meta.url));
/** The session ids the transcripts report. */
export const CLAUDE_SESSION = '4f2d8c1e-6b7a-4e0f-9c3d-2a1b5e8f7d60';
export const CODEX_THREAD = '0199a213-81c0-7800-8aa1-bbab2a035a53';

/** The configured command of an agent that runs the fake CLI on a transcript. */
export const fakeCommand = (transcript: string): string[] => [process.execPath, FAKE_CLI, transcript];
