import type { TrackerRouting } from './webhooks/index.ts';

/** Plane-style workflow states conveyor understands without configuration (ids as the simulated tracker uses them). */
export const defaultTrackerRouting: TrackerRouting = {
  states: {
    'state-backlog': { group: 'backlog', meaning: 'other', name: 'Backlog' },
    'state-todo': { group: 'unstarted', meaning: 'other', name: 'Todo' },
    'state-in-progress': { group: 'started', meaning: 'start', name: 'In Progress' },
    'state-approved': { group: 'started', meaning: 'approved', name: 'Approved' },
    'state-rejected': { group: 'started', meaning: 'rejected', name: 'Rejected' },
    'state-blocked': { group: 'started', meaning: 'blocked', name: 'Blocked' },
    'state-needs-input': { group: 'started', meaning: 'needs_input', name: 'Needs Input' },
    'state-done': { group: 'completed', meaning: 'done', name: 'Done' },
    'state-cancelled': { group: 'cancelled', meaning: 'cancelled', name: 'Cancelled' },
  },
  projectRepos: {},
  defaultRepo: 'demo',
};
