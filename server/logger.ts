import { pino, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type LogFormat = 'json' | 'pretty';

export interface LoggerOptions {
  /** pino level name; default info. */
  level?: string;
  /** JSON lines for machines, or readable lines for a terminal. */
  format: LogFormat;
  /** Values never to be written, wherever they appear in a line (tokens, webhook secrets). */
  secrets?: readonly string[];
  /** Where lines go; default stdout. */
  destination?: DestinationStream;
  /** Colours in readable lines; default whether stdout is a terminal. */
  colorize?: boolean;
}

// Fields that hold credentials by name, one and two levels deep.
const REDACTED_PATHS = ['authorization', 'token', 'secret', 'apiToken', 'password'].flatMap((key) => [key, `*.${key}`, `*.headers.${key}`]);
const CENSOR = '[redacted]';
/** Fields the readable format leaves out: the message already says them, or they are for machines. */
const PRETTY_HIDDEN = 'pid,hostname,name,reqId,taskId,stage,from,to,method,path,route,status,ms,source,event';

/** The process logger: levelled, JSON or readable, secrets redacted by field name and by value. */
export function createLogger(o: LoggerOptions): Logger {
  const secrets = (o.secrets ?? []).filter((s) => s.length >= 8).map((s) => JSON.stringify(s).slice(1, -1));
  const destination = o.format === 'pretty'
    ? pretty({
        destination: o.destination ?? 1,
        colorize: o.colorize ?? process.stdout.isTTY === true,
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: PRETTY_HIDDEN,
        messageFormat: (log, key) => `${typeof log.name === 'string' ? `${log.name}: ` : ''}${String(log[key] ?? '')}`,
        sync: true,
      })
    // Written as the event loop allows, lines gathered while a write is in flight: a synchronous write per
    // line cost a twentieth of a webhook's CPU. What is queued is flushed when the process exits, even on
    // an uncaught error; only a kill -9 can lose the last few lines (the journal, not the log, is the record).
    : (o.destination ?? pino.destination({ dest: 1, sync: false }));
  return pino(
    {
      level: o.level ?? 'info',
      base: { pid: process.pid },
      redact: { paths: REDACTED_PATHS, censor: CENSOR },
      hooks: {
        // A secret inside a message or an error (a URL with a token, a command line) is cut out too.
        streamWrite: (line) => secrets.reduce((out, secret) => out.split(secret).join(CENSOR), line),
      },
    },
    destination,
  );
}

/** The format asked for by CONVEYOR_LOG_FORMAT, else readable on a terminal and JSON otherwise. */
export function logFormat(env: NodeJS.ProcessEnv, isTTY: boolean): LogFormat {
  const asked = env.CONVEYOR_LOG_FORMAT;
  if (asked === 'json' || asked === 'pretty') return asked;
  return isTTY ? 'pretty' : 'json';
}

/** A logger that writes nothing, for apps built without one (tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
