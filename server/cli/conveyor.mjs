#!/usr/bin/env node
// The `conveyor` command. It runs the TypeScript entry through tsx (a dependency), so it works from a
// fresh clone after `npm ci`, with no build step.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
