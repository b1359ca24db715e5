import { basename, resolve } from 'node:path';
import { compactStore, isAlive, pipelineFromConfig, processStartedAt, repairStore, verifyStore, type StoreReport } from '../../actors/index.ts';
import { readConfigOrFail } from './config.ts';
import { DataDirLockedError, lockDataDir } from '../data-dir-lock.ts';
import { CommandFailure,UsageError, parse, show, type Io } from './command.ts';

function describe(r: StoreReport): string {
  const lines = [`store in ${r.dir}`];
  const c = r.checkpoint;
  const deltas = 'deltaBytes' in c && c.deltaBytes > 0 ? `, then ${c.deltaBytes} bytes of deltas in ${basename(c.deltasFile)}` : '';
  if ('problem' in c) lines.push(`  checkpoint: DAMAGED in ${basename(c.problem.file)} at byte ${c.problem.offset}: ${c.problem.reason}`);
  else lines.push(c.present ? `  checkpoint: ok, seq ${c.seq}, ${c.bytes} bytes${deltas}` : '  checkpoint: none yet');
  const j = r.journal;
  if ('problem' in j) {
    lines.push(`  journal: DAMAGED at byte ${j.problem.offset} (line from byte ${j.problem.lineStart}): ${j.problem.reason}`, `    ${j.bytes - j.problem.lineStart} bytes from there to the end; \`conveyor store repair\` cuts them (keeping a copy)`);
  } else if (!j.present) {
    lines.push('  journal: none yet');
  } else {
    lines.push(`  journal: ok, ${j.bytes} bytes, ${j.batches} batches to replay (${j.records} records)${j.firstSeq !== null ? `, seq ${j.firstSeq}..${j.lastSeq}` : ''}`);
    if (j.tornBytes > 0) lines.push(`    a torn last line of ${j.tornBytes} bytes (never acknowledged): dropped at the next start`);
  }
  const h = r.history;
  if (h && h.bytes < h.indexedBytes) lines.push(`  history: DAMAGED: ${h.file} holds ${h.bytes} bytes, the checkpoint indexes ${h.indexedBytes}`);
  else if (h && h.indexedBytes > 0) lines.push(`  history: ok, ${h.indexedBytes} bytes indexed${h.bytes > h.indexedBytes ? ` (${h.bytes - h.indexedBytes} past them, cut at the next start)` : ''}`);
  const d = r.contents;
  if (d) lines.push(`  contents: seq ${d.seq}; ${d.tasks} tasks, ${d.historyEntries} history entries, ${d.decisions} decisions, ${d.jobs} jobs, ${d.effects} effects, ${d.alerts} alerts`);
  lines.push(r.ok ? 'ok' : 'DAMAGED: conveyor refuses to start on this store');
  return lines.join('\n');
}

const dataOf = (io: Io, data: string | undefined) => resolve(data ?? io.env.CONVEYOR_DATA ?? 'data');

const actions = ['verify', 'repair', 'compact'] as const;

/** Runs a change to the store's files holding the data directory's lock, as a running conveyor does. */
async function holdingLock<T>(dir: string, work: () => Promise<T>): Promise<T> {
  let lock;
  try {
    lock = lockDataDir(dir, { self: { pid: process.pid, startedAt: processStartedAt(process.pid) ?? Date.now() }, isAlive });
  } catch (e) {
    if (e instanceof DataDirLockedError) throw new CommandFailure(`conveyor store: ${dir} is in use by process ${e.holder}; stop that conveyor first`);
    throw e;
  }
  try {
    return await work();
  } finally {
    lock.release();
  }
}

export async function store(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { data: { type: 'string' }, config: { type: 'string' } }, { min: 1, max: 1 });
  const action = positionals[0] as (typeof actions)[number];
  const dir = dataOf(io, values.data);
  switch (action) {
    case 'verify': {
      const report = await verifyStore(dir);
      show(io, report, describe);
      return report.ok ? 0 : 1;
    }
    case 'repair': {
      const result = await holdingLock(dir, () => repairStore(dir, Date.now()));
      show(io, result, (r) => {
        if (r.refused) return `${describe(r.before)}\nnot repaired: ${r.refused}`;
        if (!r.cut) return `${describe(r.before)}\nnothing to cut`;
        return `cut ${r.cut.bytes} bytes (${r.cut.lines} line${r.cut.lines === 1 ? '' : 's'}) from byte ${r.cut.from} of the journal; saved them to ${r.cut.savedTo}\n${describe(r.after)}`;
      });
      return result.after.ok && !result.refused ? 0 : 1;
    }
    case 'compact': {
      // The journal's steps replay with the task chart the configuration's pipeline makes, as `start` runs it.
      const configPath = values.config ?? io.env.CONVEYOR_CONFIG;
      const pipeline = configPath ? pipelineFromConfig(readConfigOrFail(configPath)) : undefined;
      const result = await holdingLock(dir, () => compactStore(dir, pipeline));
      show(io, result, (r) => (r.before.ok ? `checkpointed: journal ${journalBytes(r.before)} → ${journalBytes(r.after)} bytes\n${describe(r.after)}` : `${describe(r.before)}\nnot compacted: repair the store first`));
      return result.after.ok ? 0 : 1;
    }
    default:
      throw new UsageError(`store takes one of ${actions.join(', ')}, not ${String(action)}`);
  }
}

const journalBytes = (r: StoreReport) => r.journal.bytes;
