import { defineConfig } from 'vitest/config';

export default defineConfig({
  define: { __CONNECTOR_VERSION__: JSON.stringify(process.env.npm_package_version ?? '0.0.0-dev') },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts', 'test/reliability/figures-setup.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default', 'json'],
    outputFile: { json: 'dist/vitest-results.json' },
  },
});
