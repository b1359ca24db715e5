/** Kills the process groups a test started and empties the list; groups already gone are fine. */
export function killGroups(groups: number[]): void {
  for (const pgid of groups.splice(0)) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
