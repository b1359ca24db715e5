import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SettingsError } from './settings.ts';

/** Whose store a data directory holds: the self-contained demo's, or a configured conveyor's. */
export type DataDirKind = 'demo' | 'configured';

const MARKER = 'conveyor-kind.json';
// A store written before directories were marked: it can only have been a configured one or a demo run in ./data.
const STORE_FILES = ['journal.jsonl', 'checkpoint.json'];

/**
 * Marks a data directory as the demo's or a configured conveyor's, and refuses (naming the directory)
 * to run one on the other's store (SPEC R39): the demo must never create its repository and tasks
 * in a real store, nor real work land in the demo's.
 */
export function claimDataDirKind(dir: string, kind: DataDirKind): void {
  const marker = join(dir, MARKER);
  let found: DataDirKind | undefined;
  if (existsSync(marker)) found = (JSON.parse(readFileSync(marker, 'utf8')) as { kind?: DataDirKind }).kind;
  else if (STORE_FILES.some((f) => existsSync(join(dir, f)))) found = 'configured';
  if (found !== undefined && found !== kind) {
    throw new SettingsError(
      kind === 'demo'
        ? `conveyor: refusing to start the demo in ${dir}: it holds a configured conveyor's store; start with --config, or give the demo its own --data`
        : `conveyor: refusing to start with --config in ${dir}: it holds the demo's store; choose another --data`,
    );
  }
  if (!existsSync(marker)) writeFileSync(marker, `${JSON.stringify({ kind })}\n`);
}
