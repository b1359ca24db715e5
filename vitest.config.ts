import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Suites spawn real processes and git; two cores are the norm here.
    maxWorkers: 2,
    // The model suites keep every path's conveyor and simulated disk until the file ends; Node's default heap is too small for them.
    execArgv: ['--max-old-space-size=10240'],
  },
});
