export async function start(argv: string[]): Promise<number> {
  // The process entry reads its flags from argv and runs until a signal; it is the same code `npm start` runs.
  process.argv = [process.argv[0]!, new URL('../main.ts', import.meta.url).pathname, ...argv];
  await import('../main.ts');
  return new Promise<number>(() => undefined);
}
