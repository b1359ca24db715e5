// A stand-in for the Claude Code and Codex CLIs, which tests cannot install: it replays a recorded
// transcript of the real output format (test/support/transcripts/, version in the file name) line by line,
// and honours the resume flag by reporting the resumed session as its own.
//   node fake-agent-cli.mjs <transcript.jsonl> <the kind's own arguments...>
// Claude Code's: -p --input-format stream-json --output-format stream-json --verbose --replay-user-messages [--resume <id>]
//   (the prompt and any later user message come as JSON lines on stdin; each is replayed on stdout as it
//   is read; every message after the first gets a turn of its own after the transcript; stdin's end ends it)
// Codex's:       --json [resume <id>] <prompt>
// Environment: FAKE_CLI_RECORD (a file that gets one JSON line per run: what the CLI was asked),
// FAKE_CLI_DELAY_MS (between lines), FAKE_CLI_FAIL_FRESH=1 (exit 1 unless resuming),
// FAKE_CLI_HOLD_FILE (wait at the middle of the transcript until this file exists),
// FAKE_CLI_RESUME_TRANSCRIPT (the transcript a resumed run replays instead).
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

const [transcript, ...args] = process.argv.slice(2);
const claude = args.includes('-p');
const after = (flag) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
const resume = claude ? after('--resume') : after('resume');
const streaming = claude && after('--input-format') === 'stream-json';

const replayed = resume && process.env.FAKE_CLI_RESUME_TRANSCRIPT ? process.env.FAKE_CLI_RESUME_TRANSCRIPT : transcript;
const lines = readFileSync(replayed, 'utf8').split('\n').filter(Boolean);
const first = JSON.parse(lines[0]);
const recorded = first.session_id ?? first.thread_id;
const session = resume ?? recorded;
const out = (line) => process.stdout.write(`${line}\n`);

// Streaming input: user messages arrive on stdin; each is replayed as it is read.
const inbox = { messages: [], ended: !streaming, wake: () => undefined };
const textOf = (m) => (typeof m.message.content === 'string' ? m.message.content : m.message.content.map((b) => b.text ?? '').join(''));
if (streaming) {
  const reader = createInterface({ input: process.stdin });
  reader.on('line', (line) => {
    if (!line.trim()) return;
    const m = JSON.parse(line);
    inbox.messages.push(m);
    out(JSON.stringify({ type: 'user', message: m.message, session_id: session, parent_tool_use_id: null, isReplay: true }));
    inbox.wake();
  });
  reader.on('close', () => {
    inbox.ended = true;
    inbox.wake();
  });
}
const waitFor = async (ready) => {
  while (!ready()) await new Promise((resolve) => (inbox.wake = resolve));
};

await waitFor(() => !streaming || inbox.messages.length > 0 || inbox.ended);
const prompt = streaming ? (inbox.messages[0] ? textOf(inbox.messages[0]) : undefined) : claude ? after('-p') : args[args.length - 1];
if (process.env.FAKE_CLI_RECORD) {
  appendFileSync(process.env.FAKE_CLI_RECORD, `${JSON.stringify({ kind: claude ? 'claude-code' : 'codex', args, prompt, resume: resume ?? null, cwd: process.cwd() })}\n`);
}

const delay = Number(process.env.FAKE_CLI_DELAY_MS ?? 0);
const hold = process.env.FAKE_CLI_HOLD_FILE;
for (const [i, line] of lines.entries()) {
  if (hold && i === Math.floor(lines.length / 2)) while (!existsSync(hold)) await sleep(20);
  // A resumed session goes on under its own id.
  out(resume ? line.replaceAll(recorded, resume) : line);
  if (i === 2) process.stderr.write('warning: this line goes to stderr\n');
  if (delay > 0) await sleep(delay);
}

// Each later message gets its turn: a reply, and a result whose figures are the session's so far.
if (streaming) {
  const last = JSON.parse(lines[lines.length - 1]);
  let turns = 1;
  for (;;) {
    await waitFor(() => inbox.messages.length > turns || inbox.ended);
    if (inbox.messages.length <= turns) break;
    const text = textOf(inbox.messages[turns]);
    turns += 1;
    out(JSON.stringify({ type: 'assistant', message: { role: 'assistant', content: [{ type: 'text', text: `Noted: ${text}` }] }, session_id: session, parent_tool_use_id: null }));
    const usage = { ...last.usage, output_tokens: (last.usage?.output_tokens ?? 0) + 10 * (turns - 1) };
    out(JSON.stringify({ ...last, num_turns: (last.num_turns ?? 1) + turns - 1, result: `Noted: ${text}`, session_id: session, total_cost_usd: (last.total_cost_usd ?? 0) + 0.01 * (turns - 1), usage }));
  }
}
process.exit(process.env.FAKE_CLI_FAIL_FRESH === '1' && !resume ? 1 : 0);
