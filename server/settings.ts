import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

export interface Settings {
  port: number;
  host: string;
  dataDir: string;
  configPath?: string;
  apiToken: string;
  trackerSecret: string;
  forgeSecret: string;
  /** Secrets that were generated into the data directory, to print once. */
  generated: string[];
}

/** A bad flag or environment value; main prints it and exits non-zero. */
export class SettingsError extends Error {
  override name = 'SettingsError';
}

/**
 * Flags win over the environment, which wins over defaults. Secrets not given are generated once into
 * `<data>/secrets.json` so a restart keeps them.
 */
export function readSettings(argv: string[], env: NodeJS.ProcessEnv): Settings {
  const { values } = parseArgs({
    args: argv,
    options: { port: { type: 'string' }, host: { type: 'string' }, data: { type: 'string' }, config: { type: 'string' } },
    strict: true,
  });
  const port = Number(values.port ?? env.PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new SettingsError(`settings: --port must be 0..65535, got ${values.port}`);
  const dataDir = resolve(values.data ?? env.CONVEYOR_DATA ?? 'data');
  mkdirSync(dataDir, { recursive: true });
  const secretsFile = join(dataDir, 'secrets.json');
  const saved: Record<string, string> = existsSync(secretsFile) ? (JSON.parse(readFileSync(secretsFile, 'utf8')) as Record<string, string>) : {};
  const generated: string[] = [];
  const secret = (envName: string) => {
    const given = env[envName];
    if (given) return given;
    if (!saved[envName]) {
      saved[envName] = randomBytes(24).toString('hex');
      generated.push(envName);
    }
    return saved[envName];
  };
  const settings: Settings = {
    port,
    host: values.host ?? env.CONVEYOR_HOST ?? '127.0.0.1',
    dataDir,
    configPath: values.config ?? env.CONVEYOR_CONFIG,
    apiToken: secret('CONVEYOR_API_TOKEN'),
    trackerSecret: secret('CONVEYOR_TRACKER_SECRET'),
    forgeSecret: secret('CONVEYOR_FORGE_SECRET'),
    generated,
  };
  if (generated.length > 0) writeFileSync(secretsFile, JSON.stringify(saved, null, 2), { mode: 0o600 });
  return settings;
}
