// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The module map's dependency rule (ARCHITECTURE.md), enforced as import restrictions.
 * Each entry: the folder, and the folders of ours it must not import.
 */
/** Every module of ours; a pure module (policy, algorithm) may import only `core`. */
const modules = [
  'config',
  'store',
  'build',
  'sandbox',
  'guest',
  'scheduler',
  'queue',
  'triggers',
  'invoke',
  'control',
  'lambda',
  'http',
  'observe',
  'keepalive',
  'ratelimit',
  'client',
  'cli',
  'image',
  'secrets',
  'auth',
  'cost',
];
const importsOnlyCore = (self) => modules.filter((name) => name !== self);

const forbidden = {
  core: [
    'config',
    'store',
    'build',
    'sandbox',
    'guest',
    'scheduler',
    'queue',
    'triggers',
    'http',
    'observe',
    'client',
    'cli',
  ],
  guest: [
    'config',
    'store',
    'build',
    'sandbox',
    'scheduler',
    'queue',
    'triggers',
    'http',
    'observe',
    'client',
    'cli',
  ],
  config: [
    'store',
    'build',
    'sandbox',
    'guest',
    'scheduler',
    'queue',
    'triggers',
    'http',
    'observe',
    'client',
    'cli',
  ],
  store: ['build', 'sandbox', 'guest', 'scheduler', 'queue', 'triggers', 'http', 'client', 'cli'],
  build: ['store', 'sandbox', 'scheduler', 'queue', 'triggers', 'http', 'client', 'cli'],
  // Images reach the container tier through an injected preparer (server.ts), like zips through extractZip.
  sandbox: ['store', 'build', 'image', 'scheduler', 'queue', 'triggers', 'http', 'client', 'cli'],
  // OCI images: registry client, archive import, layer cache, root file systems. Core types only.
  image: importsOnlyCore('image'),
  scheduler: ['store', 'build', 'sandbox', 'queue', 'triggers', 'http', 'client', 'cli'],
  // The queue is a backend family like the store: core types in, nothing of the invoke path.
  queue: ['store', 'build', 'sandbox', 'guest', 'scheduler', 'triggers', 'http', 'client', 'cli'],
  keepalive: importsOnlyCore('keepalive'),
  // Encryption at rest and the decrypted cache: core types (the Store interface) only.
  secrets: importsOnlyCore('secrets'),
  // API keys: tokens, hashes, scopes; core types (the Store interface) only.
  auth: importsOnlyCore('auth'),
  observe: ['build', 'sandbox', 'scheduler', 'queue', 'triggers', 'http', 'client', 'cli'],
  // Pure token buckets: core types in, nothing of the paths that use them.
  ratelimit: importsOnlyCore('ratelimit'),
  // Pure pricing of the usage rollup: core types in.
  cost: importsOnlyCore('cost'),
  http: ['sandbox', 'client', 'cli'],
  lambda: ['sandbox', 'scheduler', 'guest', 'http', 'client', 'cli'],
  client: ['store', 'build', 'sandbox', 'guest', 'scheduler', 'queue', 'triggers', 'http', 'observe', 'cli'],
  cli: ['store', 'sandbox', 'guest', 'scheduler', 'queue', 'triggers', 'http', 'observe'],
};

const boundaryConfigs = Object.entries(forbidden).map(([mod, banned]) => ({
  files: [`src/${mod}/**/*.ts`],
  ignores: [`src/${mod}/**/*.test.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: banned.map((b) => ({
          group: [`**/${b}/*`, `**/${b}`],
          message: `src/${mod} must not import src/${b} (see ARCHITECTURE.md, dependency rule)`,
        })),
      },
    ],
  },
}));

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'coverage/**',
      'eslint.config.js',
      'bin/**',
      'examples/**/node_modules/**',
      'bench/tmp/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        project: ['./tsconfig.json', './tsconfig.guest.json', './console/tsconfig.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  {
    // The CLI and benchmarks talk to people on stdout; examples are user code.
    files: ['src/cli/**/*.ts', 'bench/**/*.ts', 'examples/**/*.ts', 'test/**/*.ts', 'src/guest/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    // vitest's asymmetric matchers (expect.stringMatching, ...) are typed `any`.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-unsafe-assignment': 'off' },
  },
  {
    // Examples are user code: handlers are async by contract even when they do not await.
    files: ['examples/**/*.ts'],
    rules: { '@typescript-eslint/require-await': 'off' },
  },
  {
    // Plain CommonJS that Node runs directly inside a sandbox (the process tier's Node runtime client): in
    // no TypeScript project, so linted as JavaScript without type information.
    files: ['src/**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['src/**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', process: 'readonly', console: 'readonly', Buffer: 'readonly' },
    },
    rules: { 'no-console': 'off', '@typescript-eslint/no-require-imports': 'off' },
  },
  ...boundaryConfigs,
  {
    // The web console runs in a browser and reaches the server only over HTTP: the typed client and core's
    // types, nothing host-side.
    files: ['console/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)src/(?!client/|core/)|^node:',
              message:
                'console/ may import only src/client and src/core (see ARCHITECTURE.md, dependency rule)',
            },
          ],
        },
      ],
    },
  },
);
