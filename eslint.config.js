// Lint: typescript-eslint's recommended rules, plus two guards on the house:
// - the layer ladder (docs/architecture.md): each folder of src/ imports only the folders below it,
//   so an import that runs up the ladder (or sideways between rooms of one floor) fails CI;
// - the platform-neutral core (everything below src/host) stays free of node: imports and host globals;
// - front ends (cli, host, manager, the web page) do not import test support (testing.ts, which
//   opens a Vm's board to tests and the virtio fuzzer): they use the VM's named methods.
import tseslint from 'typescript-eslint';
import { ladderPlugin } from './scripts/eslint-ladder.js';

const core = ['src/riscv', 'src/machine', 'src/devices', 'src/virtio', 'src/storage', 'src/net', 'src/vmm', 'src/memory'];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'build/**', '.cache/**', 'web/dist/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['src/**/*.ts'],
    // Tests beside the code run only under Node and may use host adapters (real files, sockets).
    ignores: ['**/*.test.ts', '**/*.test-util.ts'],
    plugins: { house: ladderPlugin },
    rules: { 'house/ladder': 'error' },
  },
  {
    files: core.map((d) => `${d}/**/*.ts`),
    // Test support (contract suites, fakes) runs only under Node's test runner.
    ignores: ['**/*.test.ts', 'src/storage/contract/**', '**/testing.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          // Exact module names for the bare ones: a pattern 'net' would also match '../net/x.ts'.
          paths: [
            'fs',
            'fs/promises',
            'path',
            'os',
            'child_process',
            'net',
            'dgram',
            'crypto',
            'zlib',
            'http',
            'https',
          ].map((name) => ({ name, message: 'The core is platform-neutral: host I/O belongs in src/host/.' })),
          patterns: [{ group: ['node:*'], message: 'The core is platform-neutral: host I/O belongs in src/host/.' }],
        },
      ],
      'no-restricted-globals': [
        'error',
        'setTimeout',
        'setInterval',
        'setImmediate',
        'process',
        'Buffer',
        'window',
        'document',
      ],
    },
  },
  {
    files: ['src/cli/**/*.ts', 'src/host/**/*.ts', 'src/manager/**/*.ts', 'web/**/*.ts'],
    ignores: ['**/*.test.ts', '**/*.test-util.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/testing.ts', '**/test-support.ts', '**/tiny-snapshot.ts'],
              message: "Test support is for tests: a front end uses the VM through VmSession's and Vm's named methods.",
            },
          ],
        },
      ],
    },
  },
);
