/**
 * Names a child process may inherit from conveyor's environment: what a shell, git and a compiler
 * need to work, nothing that authenticates. Everything else (forge and tracker tokens, the API token,
 * webhook secrets, cloud credentials) stays with conveyor unless the configuration names it (SPEC R37).
 */
export const INHERITED_ENV_NAMES: readonly string[] = [
  'PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR', 'TEMP', 'TMP', 'TERM',
  'PWD', 'HOSTNAME', 'SYSTEMROOT', 'COMSPEC', 'PATHEXT', 'WINDIR',
  'SSL_CERT_FILE', 'SSL_CERT_DIR', 'NODE_EXTRA_CA_CERTS',
];

// Locale settings come as a family (LC_ALL, LC_CTYPE, LC_MESSAGES, ...).
const INHERITED_PREFIXES = ['LC_'];

function inherited(name: string): boolean {
  return INHERITED_ENV_NAMES.includes(name) || INHERITED_PREFIXES.some((prefix) => name.startsWith(prefix));
}

/** The environment of a child process: the allowlisted part of `parent`, then `extra` (which wins). */
export function childEnvironment(extra: Record<string, string> = {}, parent: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parent)) if (value !== undefined && inherited(name)) env[name] = value;
  return { ...env, ...extra };
}

/** The values of the named variables in `source`; a name that is unset is left out, not passed empty. */
export function passedEnvironment(names: readonly string[], source: Record<string, string | undefined>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of names) {
    const value = source[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}
