// Lint: typescript-eslint's recommended rules, plus a guard that keeps the
// platform-neutral core (everything outside src/host, src/cli and tests) free of node: imports.
import tseslint from 'typescript-eslint';

const core = ['src/riscv', 'src/machine', 'src/devices', 'src/virtio', 'src/storage', 'src/net', 'src/vmm'];

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
);
