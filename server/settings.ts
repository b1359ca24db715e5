import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

export interface Flags {
  port: number;
  host: string;
  dataDir: string;
  configPath?: string;
}

export interface Secrets {
  apiToken: string;
  trackerSecret: string;
  forgeSecret: string;
  /** Names of the secrets that were generated into the data directory, to print once. */
  generated: string[];
}

/** Environment-variable names the secrets are read from (configurable). */
export interface SecretNames {
  apiToken: string;
  trackerSecret: string;
  forgeSecret: string;
}

export const defaultSecretNames: SecretNames = {
  apiToken: 'CONVEYOR_API_TOKEN',
  trackerSecret: 'CONVEYOR_TRACKER_SECRET',
  forgeSecret: 'CONVEYOR_FORGE_SECRET',
};

/** A bad flag or environment value; main prints it and exits non-zero. */
export class SettingsError extends Error {
  override name = 'SettingsError';
}

/** Flags win over the environment, which wins over defaults. */
export function readFlags(argv: string[], env: NodeJS.ProcessEnv): Flags {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { port: { type: 'string' }, host: { type: 'string' }, data: { type: 'string' }, config: { type: 'string' } },
      strict: true,
    }));
  } catch (e) {
    throw new SettingsError(`settings: ${(e as Error).message}; flags are --port, --host, --data, --config`);
  }
  const port = Number(values.port ?? env.PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new SettingsError(`settings: --port must be a whole number 0..65535, got ${values.port}`);
  const configPath = values.config ?? env.CONVEYOR_CONFIG;
  // The demo keeps to a directory of its own, so a forgotten --config never lands demo tasks in a real store.
  const dataDir = resolve(values.data ?? env.CONVEYOR_DATA ?? (configPath ? 'data' : join('data', 'demo')));
  mkdirSync(dataDir, { recursive: true });
  return { port, host: values.host ?? env.CONVEYOR_HOST ?? '127.0.0.1', dataDir, configPath };
}

/** Secrets from the environment; those not given are generated once into `<data>/secrets.json` so a restart keeps them. */
export function resolveSecrets(dataDir: string, env: NodeJS.ProcessEnv, names: SecretNames = defaultSecretNames): Secrets {
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
  const secrets = { apiToken: secret(names.apiToken), trackerSecret: secret(names.trackerSecret), forgeSecret: secret(names.forgeSecret), generated };
  if (generated.length > 0) writeFileSync(secretsFile, JSON.stringify(saved, null, 2), { mode: 0o600 });
  // The mode given on creation does not tighten a file that was already there.
  if (existsSync(secretsFile)) chmodSync(secretsFile, 0o600);
  return secrets;
}
