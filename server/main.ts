import { serve } from '@hono/node-server';
import { loadConfig, openConveyor, pipelineFromConfig, startBackground, systemWorld, Workbench, workbenchOptionsFromConfig, type ConveyorConfig } from '../actors/index.ts';
import { createApp } from './app.ts';
import { LiveEvents } from './events/index.ts';
import { demoBackgroundOverrides, demoWorkbenchOptions, startDemo } from './demo/index.ts';
import { readFlags, resolveSecrets, SettingsError } from './settings.ts';
import { trackerRoutingFromConfig } from './tracker-routing.ts';
import { intakeRepositoriesFromConfig } from './intake-repositories.ts';

const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);

function readConfig(path: string | undefined): ConveyorConfig | null {
  if (!path) return null;
  const result = loadConfig(path);
  if (!result.ok) throw new SettingsError(`conveyor: refusing to start, ${path} is not valid:\n  ${result.errors.join('\n  ')}`);
  return result.config;
}

async function main() {
  const flags = readFlags(process.argv.slice(2), process.env);
  const config = readConfig(flags.configPath);
  const secrets = resolveSecrets(flags.dataDir, process.env, config?.secrets);
  const repositories = intakeRepositoriesFromConfig(config, process.env);
  let baseUrl = '';
  // With no configuration conveyor runs its self-contained demo: a local repository, demo agents,
  // and a simulated tracker and forge that send signed webhooks over loopback.
  const workbenchOptions = config ? workbenchOptionsFromConfig(config, flags.dataDir, process.env) : await demoWorkbenchOptions(flags.dataDir);
  // Every contact with the world (clock, randomness, files, git, commands, HTTP) is wired here, and only here.
  const world = systemWorld(flags.dataDir);
  const workbench = new Workbench({ ...workbenchOptions, apiBase: () => baseUrl, world });
  const conveyor = await openConveyor({ dataDir: flags.dataDir, workbench, world, pipeline: config ? pipelineFromConfig(config) : undefined });
  const tracker = trackerRoutingFromConfig(config);
  const live = new LiveEvents(conveyor);
  const app = createApp({
    conveyor,
    live,
    apiToken: secrets.apiToken,
    trackerSecret: secrets.trackerSecret,
    forgeSecret: secrets.forgeSecret,
    tracker,
    repositories,
    log,
  });
  // Supervisor, reconciler and reaper; with the demo they start once its simulated forge serves its API.
  if (config) startBackground(conveyor, { config, tracker, env: process.env, log, fetch: world.fetch });
  let demo: { stop(): Promise<void> } | null = null;
  const server = serve({ fetch: app.fetch, port: flags.port, hostname: flags.host }, (info) => {
    baseUrl = `http://${flags.host}:${info.port}`;
    log(`conveyor: listening on ${baseUrl} (data ${flags.dataDir}, ${conveyor.status().tasks.total} tasks restored)`);
    if (secrets.generated.length > 0) {
      log(`conveyor: generated secrets into ${flags.dataDir}/secrets.json:`);
      log(`  CONVEYOR_API_TOKEN=${secrets.apiToken}`);
      log(`  CONVEYOR_TRACKER_SECRET=${secrets.trackerSecret}`);
      log(`  CONVEYOR_FORGE_SECRET=${secrets.forgeSecret}`);
    }
    if (!config) {
      void startDemo({ conveyor, baseUrl, dataDir: flags.dataDir, ...secrets, log, dropCi: process.env.CONVEYOR_DEMO_DROP_CI === '1', diverge: process.env.CONVEYOR_DEMO_DIVERGE === '1' })
        .then((d) => {
          demo = d;
          startBackground(conveyor, { config: null, tracker, env: process.env, log, fetch: world.fetch, overrides: demoBackgroundOverrides(d.forgeApiBase) });
        })
        .catch((e: unknown) => log(`demo: failed to start: ${(e as Error).message}`));
    }
  });

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`conveyor: ${signal}: stopping intake, draining, committing`);
    // Stop accepting connections first; in-flight requests finish against a still-running runtime.
    // Event streams never finish by themselves: end them, or server.close() waits on them forever.
    live.close();
    server.close();
    void (async () => {
      await demo?.stop();
      await conveyor.stop();
      if ('closeAllConnections' in server) server.closeAllConnections();
    })()
      .then(() => {
        log('conveyor: stopped cleanly');
        process.exit(0);
      })
      .catch((e: unknown) => {
        log(`conveyor: shutdown failed: ${(e as Error).message}`);
        process.exit(1);
      });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((e: unknown) => {
  const err = e as Error;
  // A refusal (bad settings, a corrupt store, tasks this build cannot restore) is a message, not a crash.
  const refusal = err instanceof SettingsError || ['RuntimeRefusedError', 'StoreCorruptError', 'StoreReadError', 'BackgroundStartError'].includes(err.name);
  process.stderr.write(`${refusal ? err.message : err.stack ?? err.message}\n`);
  process.exit(1);
});
