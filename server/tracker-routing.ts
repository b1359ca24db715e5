import type { ConveyorConfig } from '../actors/index.ts';
import { defaultTrackerRouting } from './default-tracker.ts';
import type { TrackerRouting } from './webhooks/index.ts';

/** The tracker's state map and project → repository routing from the configuration, or the defaults. */
export function trackerRoutingFromConfig(config: ConveyorConfig | null): TrackerRouting {
  if (!config?.tracker) return { ...defaultTrackerRouting, defaultRepo: config?.repositories[0]?.name ?? defaultTrackerRouting.defaultRepo };
  return {
    states: config.tracker.states ?? defaultTrackerRouting.states,
    projectRepos: config.tracker.projectRepos ?? {},
    defaultRepo: config.tracker.defaultRepo ?? config.repositories[0]?.name,
  };
}
