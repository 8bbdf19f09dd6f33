import { defineConfig } from 'vitest/config';

/** UNIT are the tests that need no root, no fixture image and no emulator: judges, config, reports, the diagnosis catalog, the orchestrator. */
const UNIT = ['test/unit/**/*.test.ts', 'test/judges/**/*.test.ts', 'test/report/**/*.test.ts', 'test/diagnose/catalog.test.ts', 'test/diagnose/captured.test.ts'];

export default defineConfig({
  test: {
    setupFiles: ['test/setup/cleanup.ts'],
    pool: 'forks',
    projects: [
      // `npm run test:unit`: any user, seconds.
      { extends: true, test: { name: 'unit', include: UNIT, testTimeout: 30_000 } },
      // Integration tests restore real images, attach loop devices, run real fsck, engines, QEMU and moto: root, and room.
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: [...UNIT, '**/node_modules/**'],
          globalSetup: ['test/setup/fixtures.ts'],
          testTimeout: 180_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
