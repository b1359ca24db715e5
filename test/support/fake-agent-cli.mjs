// A stand-in for the Claude Code and Codex CLIs, which tests cannot install: it replays a recorded
// transcript of the real output format (test/support/transcripts/, version in the file name) line by line,
// and honours the resume flag by reporting the resumed session as its own.
//   node fake-agent-cli.mjs <transcript.jsonl> <the kind's own arguments...>
// Claude Code's: -p <prompt> --output-format stream-json --verbose [--resume <id>]
// Codex's:       --json [resume <id>] <prompt>
// Environment: FAKE_CLI_RECORD (a file that gets one JSON line per run: what the CLI was asked),
// FAKE_CLI_DELAY_MS (between lines), FAKE_CLI_FAIL_FRESH=1 (exit 1 unless resuming),
// FAKE_CLI_HOLD_FILE (wait at the middle of the transcript until this file exists),
// FAKE_CLI_RESUME_TRANSCRIPT (the transcript a resumed run replays instead).
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const [transcript, ...args] = process.argv.slice(2);
const claude = args.includes('-p');
const after = (flag) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
const resume = claude ? after('--resume') : after('resume');
const prompt = claude ? after('-p') : args[args.length - 1];
if (process.env.FAKE_CLI_RECORD) {
  appendFileSync(process.env.FAKE_CLI_RECORD, `${JSON.stringify({ kind: claude ? 'claude-code' : 'codex', args, prompt, resume: resume ?? null, cwd: process.cwd() })}\n`);
}

const replayed = resume && process.env.FAKE_CLI_RESUME_TRANSCRIPT ? process.env.FAKE_CLI_RESUME_TRANSCRIPT : transcript;
const lines = readFileSync(replayed, 'utf8').split('\n').filter(Boolean);
const first = JSON.parse(lines[0]);
const recorded = first.session_id ?? first.thread_id;
const delay = Number(process.env.FAKE_CLI_DELAY_MS ?? 0);
const hold = process.env.FAKE_CLI_HOLD_FILE;

for (const [i, line] of lines.entries()) {
  if (hold && i === Math.floor(lines.length / 2)) while (!existsSync(hold)) await sleep(20);
  // A resumed session goes on under its own id.
  process.stdout.write(`${resume ? line.replaceAll(recorded, resume) : line}\n`);
  if (i === 2) process.stderr.write('warning: this line goes to stderr\n');
  if (delay > 0) await sleep(delay);
}
process.exit(process.env.FAKE_CLI_FAIL_FRESH === '1' && !resume ? 1 : 0);
