import { serve } from '@hono/node-server';
import { openConveyor } from '../actors/index.ts';
import { createApp } from './app.ts';
import { defaultTrackerRouting } from './default-tracker.ts';
import { readSettings, SettingsError } from './settings.ts';

const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);

async function main() {
  const settings = readSettings(process.argv.slice(2), process.env);
  const conveyor = await openConveyor({ dataDir: settings.dataDir });
  const app = createApp({
    conveyor,
    apiToken: settings.apiToken,
    trackerSecret: settings.trackerSecret,
    forgeSecret: settings.forgeSecret,
    tracker: defaultTrackerRouting,
    log,
  });
  const server = serve({ fetch: app.fetch, port: settings.port, hostname: settings.host }, (info) => {
    log(`conveyor: listening on http://${settings.host}:${info.port} (data ${settings.dataDir}, ${conveyor.status().tasks.total} tasks restored)`);
    if (settings.generated.length > 0) {
      log(`conveyor: generated secrets into ${settings.dataDir}/secrets.json:`);
      log(`  CONVEYOR_API_TOKEN=${settings.apiToken}`);
      log(`  CONVEYOR_TRACKER_SECRET=${settings.trackerSecret}`);
      log(`  CONVEYOR_FORGE_SECRET=${settings.forgeSecret}`);
    }
  });

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`conveyor: ${signal}: stopping intake, draining, committing`);
    // Stop accepting connections first; in-flight requests finish against a still-running runtime.
    server.close();
    void conveyor
      .stop()
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
  process.stderr.write(`${err instanceof SettingsError ? err.message : err.stack ?? err.message}\n`);
  process.exit(1);
});
