// Lint enforces the folder boundaries of ARCHITECTURE.md and the habits of STYLE.md.
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

const outer = (...folders) => folders.flatMap((f) => [`../${f}`, `../${f}/*`, `../../${f}`, `../../${f}/*`]);

export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', 'coverage/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
    },
  },
  {
    files: ['machines/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', 'fs', 'path', 'child_process', 'lowdb', 'lowdb/*', 'hono', 'hono/*', '@hono/*', 'nanoid'], message: 'machines/ is pure: no I/O.' },
          { group: outer('actors', 'server', 'store'), message: 'machines/ imports only xstate and its own files.' },
        ],
      }],
      'no-restricted-globals': ['error', 'process', 'setTimeout', 'setInterval', 'Date'],
    },
  },
  {
    files: ['store/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: outer('actors', 'server'), message: 'store/ depends on nothing above it.' },
          { group: outer('machines'), message: 'store/ may use machine types only.', allowTypeImports: true },
        ],
      }],
    },
  },
  {
    files: ['actors/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: outer('server'), message: 'actors/ must not import server/.' },
          { group: ['lowdb', 'lowdb/*'], message: 'lowdb lives in store/ only.' },
        ],
      }],
    },
  },
  {
    files: ['server/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: outer('store'), message: 'server/ reaches the store through actors/.', allowTypeImports: true },
          { group: ['lowdb', 'lowdb/*'], message: 'lowdb lives in store/ only.' },
        ],
      }],
    },
  },
);
