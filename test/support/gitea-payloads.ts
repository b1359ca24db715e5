/**
 * Webhook bodies in the shape Gitea sends them (its `modules/structs` hook payloads: User, Repository,
 * PullRequest, PullRequestPayload, CommitStatusPayload, PushPayload), with every field it writes, so
 * intake is tested against what a real Gitea delivers rather than the few fields conveyor reads.
 */
const HOST = 'https://git.example.com';
const TIME = '2026-11-20T10:00:00Z';

export interface GiteaPlace {
  owner: string;
  repo: string;
}

function user(login: string) {
  return {
    id: 7, login, login_name: '', source_id: 0, full_name: '', email: `${login}@example.com`,
    avatar_url: `${HOST}/avatars/${login}`, html_url: `${HOST}/${login}`, language: '', is_admin: false,
    last_login: '0001-01-01T00:00:00Z', created: TIME, restricted: false, active: false, prohibit_login: false,
    location: '', website: '', description: '', visibility: 'public', followers_count: 0, following_count: 0,
    starred_repos_count: 0, username: login,
  };
}

/** A Gitea Repository object. */
export function giteaRepository(p: GiteaPlace) {
  const full = `${p.owner}/${p.repo}`;
  return {
    id: 42, owner: user(p.owner), name: p.repo, full_name: full, description: '', empty: false, private: true,
    fork: false, template: false, parent: null, mirror: false, size: 120, language: '', languages_url: `${HOST}/api/v1/repos/${full}/languages`,
    html_url: `${HOST}/${full}`, url: `${HOST}/api/v1/repos/${full}`, link: '', ssh_url: `git@git.example.com:${full}.git`,
    clone_url: `${HOST}/${full}.git`, original_url: '', website: '', stars_count: 0, forks_count: 0, watchers_count: 1,
    open_issues_count: 0, open_pr_counter: 1, release_counter: 0, default_branch: 'main', archived: false,
    created_at: TIME, updated_at: TIME, archived_at: '1970-01-01T00:00:00Z',
    permissions: { admin: true, push: true, pull: true }, has_issues: true,
    internal_tracker: { enable_time_tracker: true, allow_only_contributors_to_track_time: true, enable_issue_dependencies: true },
    has_wiki: true, has_pull_requests: true, has_projects: true, has_releases: true, has_packages: true, has_actions: true,
    ignore_whitespace_conflicts: false, allow_merge_commits: true, allow_rebase: true, allow_rebase_explicit: true,
    allow_squash_merge: true, allow_fast_forward_only_merge: false, allow_rebase_update: true,
    default_delete_branch_after_merge: false, default_merge_style: 'merge', default_allow_maintainer_edit: false,
    avatar_url: '', internal: false, mirror_interval: '', object_format_name: 'sha1', mirror_updated: '0001-01-01T00:00:00Z',
    repo_transfer: null, topics: null,
  };
}

function branchInfo(p: GiteaPlace, ref: string, sha: string) {
  return { label: ref, ref, sha, repo_id: 42, repo: giteaRepository(p) };
}

/** A Gitea PullRequestPayload: `action` opened, synchronized, closed (merged or not), or a review's. */
export function giteaPullRequest(p: GiteaPlace, action: string, o: { number: number; branch: string; sha: string; merged?: boolean; review?: { type: string; content: string } }) {
  const full = `${p.owner}/${p.repo}`;
  const closed = action === 'closed';
  const mergeSha = o.merged ? 'f'.repeat(40) : null;
  return {
    action, number: o.number,
    pull_request: {
      id: 900 + o.number, url: `${HOST}/${full}/pulls/${o.number}`, number: o.number, user: user('dev'), title: 'Add search', body: '',
      labels: [], milestone: null, assignee: null, assignees: null, requested_reviewers: null, state: closed ? 'closed' : 'open',
      draft: false, is_locked: false, comments: 0, additions: 12, deletions: 1, changed_files: 2,
      html_url: `${HOST}/${full}/pulls/${o.number}`, diff_url: `${HOST}/${full}/pulls/${o.number}.diff`, patch_url: `${HOST}/${full}/pulls/${o.number}.patch`,
      mergeable: true, merged: o.merged ?? false, merged_at: o.merged ? TIME : null, merge_commit_sha: mergeSha, merged_by: o.merged ? user('rita') : null,
      allow_maintainer_edit: false, base: branchInfo(p, 'main', 'a'.repeat(40)), head: branchInfo(p, o.branch, o.sha),
      merge_base: 'a'.repeat(40), due_date: null, created_at: TIME, updated_at: TIME, closed_at: closed ? TIME : null, pin_order: 0,
    },
    requested_reviewer: null, repository: giteaRepository(p), sender: user(o.review ? 'rita' : 'dev'), commit_id: o.review ? o.sha : '',
    review: o.review ?? null,
  };
}

function payloadCommit(p: GiteaPlace, sha: string) {
  const who = { name: 'dev', email: 'dev@example.com', username: 'dev' };
  return {
    id: sha, message: 'Add search\n', url: `${HOST}/${p.owner}/${p.repo}/commit/${sha}`, author: who, committer: who,
    verification: null, timestamp: TIME, added: [], removed: [], modified: ['README.md'],
  };
}

/** A Gitea CommitStatusPayload (the `status` event). */
export function giteaStatus(p: GiteaPlace, o: { sha: string; state: string; context?: string }) {
  return {
    commit: payloadCommit(p, o.sha), context: o.context ?? 'ci/build', created_at: TIME, description: `build ${o.state}`, id: 31,
    repository: giteaRepository(p), sender: user('ci'), sha: o.sha, state: o.state,
    target_url: `${HOST}/${p.owner}/${p.repo}/actions/runs/5`, updated_at: TIME,
  };
}

/** A Gitea PushPayload. */
export function giteaPush(p: GiteaPlace, o: { branch: string; sha: string }) {
  const commit = payloadCommit(p, o.sha);
  return {
    ref: `refs/heads/${o.branch}`, before: 'a'.repeat(40), after: o.sha, compare_url: `${HOST}/${p.owner}/${p.repo}/compare/${'a'.repeat(40)}...${o.sha}`,
    commits: [commit], total_commits: 1, head_commit: commit, repository: giteaRepository(p), pusher: user('dev'), sender: user('dev'),
  };
}
