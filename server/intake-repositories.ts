import type { ConveyorConfig } from '../actors/index.ts';
import { SettingsError } from './settings.ts';
import type { IntakeRepository } from './webhooks/index.ts';

/** The configured repositories as webhook intake knows them, each repository's own secrets read from the environment. */
export function intakeRepositoriesFromConfig(config: ConveyorConfig | null, env: Record<string, string | undefined>): IntakeRepository[] {
  if (!config) return [];
  return config.repositories.map((r) => {
    const repo: IntakeRepository = { name: r.name, ...(r.forge ? { forge: { owner: r.forge.owner, repo: r.forge.repo } } : {}) };
    if (!r.webhook) return repo;
    const read = (name: string) => {
      const value = env[name];
      if (!value) throw new SettingsError(`conveyor: refusing to start, repository ${r.name} takes its webhook secret from ${name}, which is not set`);
      return value;
    };
    const { secretEnv, previousSecretEnv, previousUntil } = r.webhook;
    return {
      ...repo,
      secret: {
        current: read(secretEnv),
        ...(previousSecretEnv && previousUntil ? { previous: read(previousSecretEnv), previousUntil: Date.parse(previousUntil) } : {}),
      },
    };
  });
}
