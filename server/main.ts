import { serve } from '@hono/node-server';
import { isAlive, loadConfig, openConveyor, processStartedAt, pipelineFromConfig, startBackground, systemWorld, Workbench, workbenchOptionsFromConfig, type ConveyorConfig } from '../actors/index.ts';
import { createApp } from './app.ts';
import { LiveEvents } from './events/index.ts';
import { demoBackgroundOverrides, demoWorkbenchOptions, startDemo } from './demo/index.ts';
import { lineLog } from './line-log.ts';
import { createLogger, logFormat } from './logger.ts';
import { readFlags, resolveSecrets, SettingsError } from './settings.ts';
import { followTransitions } from './task-log.ts';
import { trackerRoutingFromConfig } from './tracker-routing.ts';
import { intakeRepositoriesFromConfig } from './intake-repositories.ts';
import { DataDirLockedError, lockDataDir } from './data-dir-lock.ts';
import { claimDataDirKind } from './data-dir-kind.ts';

function readConfig(path: string | undefined): ConveyorConfig | null {
  if (!path) return null;
  const result = loadConfig(path);
  if (!result.ok) throw new SettingsError(`conveyor: refusing to start, ${path} is not valid:\n  ${result.errors.join('\n  ')}`);
  return result.config;
}

async function main() {
  const flags = readFlags(process.argv.slice(2), process.env);
  const config = readConfig(flags.configPath);
  // One process per data directory (SPEC R39): taken before anything in it is read or written.
  const lock = lockDataDir(flags.dataDir, { self: { pid: process.pid, startedAt: processStartedAt(process.pid) ?? Date.now() }, isAlive });
  process.on('exit', () => lock.release());
  claimDataDirKind(flags.dataDir, config ? 'configured' : 'demo');
  const secrets = resolveSecrets(flags.dataDir, process.env, config?.secrets);
  const repositories = intakeRepositoriesFromConfig(config, process.env);
  const metricsToken = process.env.CONVEYOR_METRICS_TOKEN || undefined;
  const logger = createLogger({
    level: process.env.CONVEYOR_LOG_LEVEL,
    format: logFormat(process.env, process.stdout.isTTY === true),
    secrets: [
      secrets.apiToken, secrets.trackerSecret, secrets.forgeSecret, ...(metricsToken ? [metricsToken] : []),
      ...repositories.flatMap((r) => [r.secret?.current, r.secret?.previous].filter((v): v is string => v !== undefined)),
    ],
  });
  const log = lineLog(logger);
  if (lock.tookOverFrom !== undefined) log(`conveyor: took over the lock of ${flags.dataDir} left by process ${lock.tookOverFrom}, which is gone`);
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
    metricsToken,
    logger,
    // The demo's readable lines are its stage changes; its own webhook traffic is detail.
    accessLogLevel: config ? 'info' : 'debug',
  });
  conveyor.metrics.collectProcessMetrics();
  // Every committed transition is a task line; the demo prints its own readable ones, so there they are debug.
  followTransitions(conveyor, logger.child({ name: 'task' }), { stageChanges: config ? 'info' : 'debug' });
  // Supervisor, reconciler and reaper; with the demo they start once its simulated forge serves its API.
  if (config) startBackground(conveyor, { config, tracker, env: process.env, log, fetch: world.fetch });
  let demo: { stop(): Promise<void> } | null = null;
  const server = serve({ fetch: app.fetch, port: flags.port, hostname: flags.host }, (info) => {
    baseUrl = `http://${flags.host}:${info.port}`;
    log(`conveyor: listening on ${baseUrl} (data ${flags.dataDir}, ${conveyor.status().tasks.total} tasks restored)`);
    for (const q of conveyor.runtime.quarantined()) log(`conveyor: task ${q.taskId} is quarantined in ${q.state}: its persisted snapshot is in error (${q.error}); cancel it or restore it by hand`);
    // The values never reach the log (SPEC R39), only where they are.
    if (secrets.generated.length > 0) log(`conveyor: generated ${secrets.generated.join(', ')} into ${flags.dataDir}/secrets.json (mode 0600)`);
    if (!config) {
      void startDemo({ conveyor, baseUrl, dataDir: flags.dataDir, ...secrets, log, dropCi: process.env.CONVEYOR_DEMO_DROP_CI === '1', diverge: process.env.CONVEYOR_DEMO_DIVERGE === '1' })
        .then((d) => {
          demo = d;
          startBackground(conveyor, { config: null, tracker, env: process.env, log, fetch: world.fetch, overrides: demoBackgroundOverrides(d.forgeApiBase) });
        })
        .catch((e: unknown) => log(`demo: failed to start: ${(e as Error).message}`, { level: 'error' }));
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
        log(`conveyor: shutdown failed: ${(e as Error).message}`, { level: 'error' });
        process.exit(1);
      });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((e: unknown) => {
  const err = e as Error;
  // A refusal (bad settings, a corrupt store, tasks this build cannot restore) is a message, not a crash.
  const refusal = err instanceof SettingsError || err instanceof DataDirLockedError || ['RuntimeRefusedError', 'StoreCorruptError', 'StoreReadError', 'BackgroundStartError'].includes(err.name);
  process.stderr.write(`${refusal ? err.message : err.stack ?? err.message}\n`);
  process.exit(1);
});
