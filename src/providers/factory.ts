import type { Config } from '../config/types.js';
import { AwsProvider } from './aws/aws.js';
import { LocalProvider } from './local/local.js';
import type { Provider } from '../provider.js';

/** ProviderUse is what a provider is built for: a run (also plan and diagnose), or gc settling what killed runs left. */
export type ProviderUse = 'run' | 'gc';

/** createProvider builds the provider a config names. */
export function createProvider(config: Config, runId: string, use: ProviderUse = 'run'): Provider {
  switch (config.provider.type) {
    case 'local':
      return new LocalProvider(config.provider, runId);
    case 'aws':
      return new AwsProvider(config.provider, runId, config.snapshots, {
        boot: config.boot,
        // gc releases the records of killed runs (helpers first, detaches forced): each wait is bounded so that one pass settles a run.
        ...(use === 'gc' ? { waits: { attach: { timeoutMs: 120_000, pollMs: 2000, reason: 'volume detached' } } } : {}),
      });
  }
}
