import { afterAll, beforeAll, beforeEach } from 'vitest';
import { startEmulator, type Emulator, type EmulatorOptions } from './emulator.js';

export { AWS_ENV, TEST_ZONE, awsProviderYaml, type Emulator } from './emulator.js';

export interface UseEmulatorOptions extends EmulatorOptions {
  /** Clear moto's resources and the proxy's rules and calls before each test (default true). */
  resetEach?: boolean;
}

/**
 * useEmulator gives the tests of this file (or of the enclosing describe) one emulated account, moto behind the
 * fault proxy: it starts it in beforeAll, resets it before each test and stops it in afterAll. It returns the
 * handle at once, filled when beforeAll has run: use it inside tests and hooks, not while the tests are collected.
 * Hooks registered after this call run after the start, and their afterAll before the stop.
 */
export function useEmulator(opts: UseEmulatorOptions = {}): Emulator {
  let started: Emulator | undefined;
  const emulator = (): Emulator => {
    if (!started) throw new Error('the emulator starts in beforeAll: use it inside a test or a hook');
    return started;
  };
  beforeAll(async () => {
    started = await startEmulator(opts);
  }, 60_000);
  afterAll(async () => started?.stop());
  if (opts.resetEach ?? true) beforeEach(() => emulator().reset());
  return new Proxy({} as Emulator, { get: (_, key) => Reflect.get(emulator(), key) });
}
