import { setTimeout as delay } from 'node:timers/promises';
import { finishedStatuses, type JobRecord } from '../../actors/work/job-record.ts';
import { ApiClient, seg } from './client.ts';
import {CommandFailure, parse, remoteOptions, type Io } from './command.ts';

const POLL_MS = 500;

export async function logs(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { ...remoteOptions, follow: { type: 'boolean', short: 'f' } }, { min: 1, max: 1 });
  const client = ApiClient.from(io, values);
  const path = `/jobs/${seg(positionals[0]!)}`;
  if (!values.follow) {
    io.out(await client.text(`${path}/log`));
    return 0;
  }
  // The log route serves a bounded tail; following prints whatever the tail gained since the last read.
  let printed = '';
  const readMore = async () => {
    let text: string;
    try {
      text = await client.text(`${path}/log`);
    } catch (e) {
      // No log yet: the job has not started writing.
      if (e instanceof CommandFailure && / 404: /.test(e.message)) return;
      throw e;
    }
    const overlap = text.startsWith(printed) ? printed.length : overlapOf(printed, text);
    io.out(text.slice(overlap));
    printed = text;
  };
  for (;;) {
    const { job } = await client.get<{ job: JobRecord }>(path);
    await readMore();
    if (finishedStatuses.has(job.status)) break;
    await delay(POLL_MS);
  }
  return 0;
}

/** Where the new tail picks up after the old one, when its beginning was cut off by the log's bound. */
function overlapOf(before: string, after: string): number {
  const mark = before.slice(-256);
  const at = mark === '' ? -1 : after.lastIndexOf(mark);
  return at === -1 ? 0 : at + mark.length;
}
