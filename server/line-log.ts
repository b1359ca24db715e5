import type { Logger } from 'pino';
import type { LogLine } from '../actors/index.ts';

// "reaper: job 12 reaped" is logged by a logger named reaper, with the message after the prefix.
const PREFIXED = /^([a-z][a-z0-9-]{0,30}): ([\s\S]*)$/;

/** Turns conveyor's named lines into structured log records: the prefix names the logger, fields ride along. */
export function lineLog(logger: Logger): LogLine {
  const named = new Map<string, Logger>();
  const child = (name: string) => {
    let log = named.get(name);
    if (!log) named.set(name, (log = logger.child({ name })));
    return log;
  };
  return (line, fields = {}) => {
    const { level = 'info', ...rest } = fields;
    const m = PREFIXED.exec(line);
    const log = m ? child(m[1]!) : logger;
    log[level](rest, m ? m[2]! : line);
  };
}
