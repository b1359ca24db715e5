/** A repository as webhook intake knows it: conveyor's name, its forge's owner/repo, and its own secrets, if any. */
export interface IntakeRepository {
  name: string;
  forge?: { owner: string; repo: string };
  /** The repository's own webhook secret; during a rotation the previous one too, until `previousUntil` (ms). */
  secret?: RotatingSecret;
}

/** A secret being replaced: both are accepted until the rotation window ends. */
export interface RotatingSecret {
  current: string;
  previous?: string;
  previousUntil?: number;
}

/** How a delivery names its repository: `full_name` and, where the forge sends them, its URLs. */
export interface RepositoryIdentity {
  fullName?: string;
  cloneUrl?: string;
  htmlUrl?: string;
}

const lower = (s: string) => s.toLowerCase();

/** `owner/repo` from a clone or web URL (`https://host/owner/repo(.git)`, `git@host:owner/repo.git`), lower-cased. */
function ownerRepoOfUrl(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  const path = url.trim().replace(/^[\w.-]+@[\w.-]+:/, '/').replace(/^[a-z]+:\/\/[^/]+/i, '').replace(/\.git\/?$|\/$/i, '');
  const parts = path.split('/').filter((p) => p !== '');
  return parts.length >= 2 ? lower(parts.slice(-2).join('/')) : undefined;
}

/** Reads a delivery's repository identity from its JSON (a Standard Webhooks envelope's under `data`); never throws. */
export function repositoryIdentity(json: unknown): RepositoryIdentity {
  const obj = (v: unknown): Record<string, unknown> | undefined => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined);
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const body = obj(json);
  const repository = obj(body?.repository) ?? obj(obj(body?.data)?.repository);
  return { fullName: str(repository?.full_name), cloneUrl: str(repository?.clone_url), htmlUrl: str(repository?.html_url) };
}

/**
 * Conveyor's repositories as forges name them (SPEC R38): a repository with a forge block is
 * `owner/repo` in `full_name` or at the end of `clone_url` / `html_url`, case-insensitively; one
 * without is its conveyor name. With no repositories configured at all, `full_name` is taken as is.
 */
export class ForgeRepositories {
  readonly #repos: readonly IntakeRepository[];

  constructor(repos: readonly IntakeRepository[] = []) {
    this.#repos = repos;
  }

  /** The configured repository a delivery is about, or undefined when none matches. */
  find(identity: RepositoryIdentity): IntakeRepository | undefined {
    const fullName = identity.fullName === undefined ? undefined : lower(identity.fullName);
    const fromUrls = [ownerRepoOfUrl(identity.cloneUrl), ownerRepoOfUrl(identity.htmlUrl)];
    return this.#repos.find((r) => {
      if (!r.forge) return fullName === lower(r.name);
      const ownerRepo = lower(`${r.forge.owner}/${r.forge.repo}`);
      return fullName === ownerRepo || fromUrls.includes(ownerRepo);
    });
  }

  /** The conveyor repository name for a delivery's identity, or the reason there is none. */
  resolve(identity: RepositoryIdentity): { name: string } | { reason: string } {
    const found = this.find(identity);
    if (found) return { name: found.name };
    if (this.#repos.length === 0 && identity.fullName !== undefined) return { name: identity.fullName };
    const named = identity.fullName ?? identity.cloneUrl ?? identity.htmlUrl;
    return { reason: named === undefined ? 'the delivery names no repository' : `repository ${named} is not configured` };
  }

  /** The secrets a delivery is checked against: its repository's (both during a rotation), else the forge-wide ones. */
  secretsFor(identity: RepositoryIdentity, fallback: RotatingSecret, nowMs: number): string[] {
    const own = this.find(identity)?.secret ?? fallback;
    const inWindow = own.previous !== undefined && own.previous !== '' && own.previousUntil !== undefined && nowMs <= own.previousUntil;
    return inWindow ? [own.current, own.previous!] : [own.current];
  }
}
