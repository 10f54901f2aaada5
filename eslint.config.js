import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', '.latchkey/', 'coverage/', 'dist/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    // Nothing under tokens/, sessions/ or users/ may reach for HTTP or a SQL driver.
    files: ['src/tokens/**', 'src/sessions/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['fastify', '@fastify/*', 'pg', 'kysely', '@electric-sql/*', '**/http/**', '**/cli/**'] }],
    },
  },
  {
    // Routes talk to the facade (auth.ts) and the wire types, never to the store or domain internals.
    files: ['src/http/**'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{
          regex: '^(\\.\\./)+(store|tokens|sessions|users|admin|audit|django|cli)/|create-auth\\.ts$',
          message: 'http/ reaches the domain through auth.ts (and types through wire.ts).',
        }],
      }],
    },
  },
  {
    // users/ knows nothing of the move from Django; that lives in django/.
    files: ['src/users/**'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['**/django/**', '**/store/repos/django-*', '**/store/repos/imports.ts'], message: 'The Django migration lives in src/django/.' },
          { group: ['fastify', '@fastify/*', 'pg', 'kysely', '@electric-sql/*', '**/http/**', '**/cli/**'], message: 'users/ has no HTTP or SQL driver.' },
        ],
      }],
    },
  },
  {
    // The client runs in browsers: no server code, no node: modules, no runtime dependency — only the wire types.
    files: ['src/client/**'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ regex: '^(?!\\./|\\.\\./wire\\.ts$)', message: 'latchkey/client imports only ./ files and ../wire.ts.' }],
      }],
    },
  },
  {
    files: ['bin/**', 'bench/**', 'scripts/**'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
