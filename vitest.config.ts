import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/fixtures.ts'],
    setupFiles: ['test/setup/cleanup.ts'],
    // Integration tests restore real images, attach loop devices and run real fsck: give them room.
    testTimeout: 180_000,
    hookTimeout: 600_000,
    pool: 'forks',
  },
});
