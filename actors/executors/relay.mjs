// conveyor's job relay, run as
//   node relay.mjs <logPath> <maxLogBytes> <exitFile> [--held] [--lines] [--inbox <file>] -- <argv...>
//   node relay.mjs <logPath> <maxLogBytes> <exitFile> [--held] [--lines] [--inbox <file>] --shell <command>
// with `--lines` when the agent's output is structured (JSON lines): stdout
// and stderr then reach the log a whole line at a time, so neither cuts into the other's lines.
// conveyor starts it detached with no stdio of its own, so neither the relay nor the agent it runs
// holds a pipe to conveyor and both outlive a conveyor restart. The relay keeps the agent's output
// in a bounded log and, once the agent has ended, its exit status in <exitFile>, which a restarted
// conveyor reads instead of an exit code it could not wait for. The agent stays in the relay's
// process group, so killing the group still ends everything the agent started.
// --held: the agent starts only once conveyor writes "go" on the relay's stdin, which it does after the
// job record names the relay; if conveyor dies first (its end of the pipe closes), the agent never
// starts and the exit file says so. So no agent runs that conveyor has not recorded.
// --inbox: the agent reads its turns on stdin (Claude Code's stream-json input): each line of <file>, as
// conveyor appends it (the prompt first, then words for the running session), goes to the agent's stdin.
// The file outlives conveyor, so a restarted conveyor appends to the same session. Once the agent has
// answered every line sent (a stdout line starting {"type":"result"} per turn) and none is waiting, its
// stdin is closed and it ends; a line appended after that never reaches it.
// Plain Node with built-ins only: it runs without conveyor's TypeScript loader.
import { spawn } from 'node:child_process';
import { closeSync, constants, fsyncSync, mkdirSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { dirname } from 'node:path';

// After the agent exits its pipes close at once, unless something it left running still holds them.
const PIPE_CLOSE_WAIT_MS = 1000;
const USAGE_EXIT = 2;
const SPAWN_FAILED_EXIT = 127;
const NOT_RELEASED_EXIT = 125;
const MAX_PENDING_LINE = 1024 * 1024;
const INBOX_POLL_MS = 100;
const RESULT_LINE = /^\s*\{"type":"result"/;

function parseArgs(argv) {
  const [logPath, maxArg, exitFile, ...after] = argv;
  const flags = new Set();
  let inbox = null;
  while (after[0] === '--held' || after[0] === '--lines' || after[0] === '--inbox') {
    const flag = after.shift();
    if (flag === '--inbox') inbox = after.shift() ?? null;
    else flags.add(flag);
  }
  const held = flags.has('--held');
  const lines = flags.has('--lines');
  const [mode, ...rest] = after;
  const maxBytes = Number(maxArg);
  if (!logPath || !exitFile || !maxArg || Number.isNaN(maxBytes) || inbox === '') return null;
  const common = { logPath, maxBytes, exitFile, held, lines, inbox };
  if (mode === '--shell' && rest.length === 1) return { ...common, file: '/bin/sh', args: ['-c', rest[0]] };
  if (mode === '--' && rest.length > 0 && rest[0] !== '') return { ...common, file: rest[0], args: rest.slice(1) };
  return null;
}

// Resolves true once "go" arrives on stdin, false if stdin ends first (conveyor is gone).
function released() {
  return new Promise((resolve) => {
    let text = '';
    const done = (go) => {
      process.stdin.removeAllListeners();
      process.stdin.on('error', () => undefined);
      process.stdin.destroy();
      resolve(go);
    };
    process.stdin.on('data', (chunk) => {
      text += chunk.toString();
      if (text.includes('go\n')) done(true);
    });
    process.stdin.on('end', () => done(false));
    process.stdin.on('error', () => done(false));
  });
}

// Holds back a stream's unfinished line until its newline (or the stream's end) arrives.
function lineWriter(write) {
  let pending = Buffer.alloc(0);
  return {
    write(chunk) {
      const data = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
      const end = data.lastIndexOf(0x0a) + 1;
      if (end > 0) write(data.subarray(0, end));
      pending = data.subarray(end);
      // A line that never ends is written anyway, rather than held in memory without bound.
      if (pending.length > MAX_PENDING_LINE) {
        write(pending);
        pending = Buffer.alloc(0);
      }
    },
    flush() {
      if (pending.length > 0) write(pending);
      pending = Buffer.alloc(0);
    },
  };
}

// Feeds the inbox file's whole lines to the agent's stdin as they are appended, and closes stdin once
// every line sent has its result and nothing more is waiting.
function inboxFeeder(path, stdin) {
  let offset = 0;
  let pending = Buffer.alloc(0);
  let sent = 0;
  let results = 0;
  let closed = false;
  const chunk = Buffer.alloc(64 * 1024);
  const pump = () => {
    if (closed) return;
    let fd;
    try {
      fd = openSync(path, 'r');
    } catch {
      return;
    }
    try {
      for (let n = readSync(fd, chunk, 0, chunk.length, offset); n > 0; n = readSync(fd, chunk, 0, chunk.length, offset)) {
        offset += n;
        pending = Buffer.concat([pending, chunk.subarray(0, n)]);
      }
    } catch {
      // Read again on the next poll.
    } finally {
      closeSync(fd);
    }
    for (let nl = pending.indexOf(0x0a); nl >= 0; nl = pending.indexOf(0x0a)) {
      const line = pending.subarray(0, nl + 1);
      pending = pending.subarray(nl + 1);
      if (line.toString('utf8').trim() === '') continue;
      stdin.write(line);
      sent += 1;
    }
  };
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(timer);
    stdin.end();
  };
  const timer = setInterval(pump, INBOX_POLL_MS);
  stdin.on('error', () => undefined);
  pump();
  return {
    // Whole lines of the agent's stdout, as the log gets them.
    output(data) {
      for (const line of data.toString('utf8').split('\n')) if (RESULT_LINE.test(line)) results += 1;
      if (results === 0 || results < sent) return;
      pump();
      if (results >= sent) close();
    },
    close,
  };
}

// The same bound, marker and notes as conveyor's BoundedLog (log-file.ts); writes are synchronous so
// that everything the agent printed is on disk before the exit file says it has ended.
function openLog(path, maxBytes) {
  mkdirSync(dirname(path), { recursive: true });
  // conveyor created (and truncated) the log; append so that its own notes are never overwritten.
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND, 0o644);
  const max = Math.max(0, Math.floor(maxBytes));
  let kept = 0;
  let truncated = false;
  let failed = false;
  let closed = false;
  const put = (buf) => {
    for (let done = 0; done < buf.length && !failed; ) {
      try {
        const n = writeSync(fd, buf, done, buf.length - done);
        if (n <= 0) failed = true;
        done += n;
      } catch {
        // A failing disk must not take the agent down with it: the log just stops.
        failed = true;
      }
    }
  };
  return {
    write(chunk) {
      if (truncated || closed || failed) return;
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      const room = max - kept;
      if (buf.length <= room) {
        kept += buf.length;
        if (buf.length > 0) put(buf);
        return;
      }
      if (room > 0) put(buf.subarray(0, room));
      kept = max;
      truncated = true;
      put(Buffer.from(`\n[conveyor: log truncated at ${max} bytes; further output dropped]\n`));
    },
    note(text) {
      if (!closed && !failed) put(Buffer.from(`[conveyor: ${text}]\n`));
    },
    close() {
      if (closed) return;
      closed = true;
      try {
        closeSync(fd);
      } catch {
        // nothing left to lose
      }
    },
  };
}

const nullLog = { write() {}, note() {}, close() {} };

// Written to a temporary file and renamed over the target, so a reader sees the whole record or none.
function writeExitFile(path, record) {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    const fd = openSync(tmp, 'w', 0o644);
    try {
      writeSync(fd, `${JSON.stringify(record)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    return null;
  } catch (err) {
    rmSync(tmp, { force: true });
    return err instanceof Error ? err.message : String(err);
  }
}

function exitStatus(code, signal) {
  if (code !== null) return code;
  return 128 + (osConstants.signals[signal] ?? 0);
}

async function main() {
  const job = parseArgs(process.argv.slice(2));
  if (job === null) {
    process.stderr.write('relay: usage: relay.mjs <logPath> <maxLogBytes> <exitFile> [--held] [--lines] [--inbox <file>] (-- <argv...> | --shell <command>)\n');
    process.exit(USAGE_EXIT);
  }
  if (job.held && !(await released())) {
    const error = 'executors: conveyor went away before the job was on record; its agent never started';
    const failure = writeExitFile(job.exitFile, { code: null, signal: null, finishedAt: Date.now(), error });
    if (failure !== null) process.stderr.write(`relay: cannot write exit file ${job.exitFile}: ${failure}\n`);
    process.exit(NOT_RELEASED_EXIT);
  }
  let ended = false;
  let log = nullLog;
  const end = (record, status) => {
    if (ended) return;
    ended = true;
    const failure = writeExitFile(job.exitFile, record);
    if (failure !== null) log.note(`cannot write exit file ${job.exitFile}: ${failure}`);
    log.close();
    process.exit(status);
  };
  try {
    log = openLog(job.logPath, job.maxBytes);
  } catch (err) {
    const error = `executors: cannot open log ${job.logPath}: ${err instanceof Error ? err.message : String(err)}`;
    return end({ code: null, signal: null, finishedAt: Date.now(), error }, SPAWN_FAILED_EXIT);
  }

  // cwd and environment are the relay's own, which conveyor set for the agent.
  const child = spawn(job.file, job.args, { stdio: [job.inbox ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  const inbox = job.inbox ? inboxFeeder(job.inbox, child.stdin) : null;
  process.on('SIGTERM', () => {
    child.kill('SIGTERM');
  });
  const closed = new Promise((resolve) => child.once('close', resolve));
  // Drain both pipes whatever the log keeps, so the agent never blocks on a full pipe.
  const writers = [];
  for (const stream of [child.stdout, child.stderr]) {
    const sink = stream === child.stdout && inbox ? (data) => {
      log.write(data);
      inbox.output(data);
    } : (data) => log.write(data);
    const writer = job.lines ? lineWriter(sink) : { write: sink, flush() {} };
    writers.push(writer);
    stream.on('data', (chunk) => writer.write(chunk));
    stream.on('error', () => undefined);
  }
  child.on('error', (err) => {
    // Once the agent has a pid, an 'error' can only come from signalling it, which changes nothing.
    if (child.pid !== undefined) return;
    const error = `executors: cannot spawn ${job.file}: ${err.message}`;
    log.note(`spawn failed: ${error}`);
    end({ code: null, signal: null, finishedAt: Date.now(), error }, SPAWN_FAILED_EXIT);
  });
  child.once('exit', (code, signal) => {
    const finishedAt = Date.now();
    inbox?.close();
    let cap;
    const capped = new Promise((resolve) => {
      cap = setTimeout(resolve, PIPE_CLOSE_WAIT_MS);
    });
    void Promise.race([closed, capped]).then(() => {
      clearTimeout(cap);
      child.stdout.destroy();
      child.stderr.destroy();
      for (const writer of writers) writer.flush();
      end({ code, signal, finishedAt }, exitStatus(code, signal));
    });
  });
}

await main();
