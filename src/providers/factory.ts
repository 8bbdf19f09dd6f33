import type { Config } from '../config/types.js';
import { AwsProvider } from './aws/aws.js';
import { LocalProvider } from './local/local.js';
import type { Provider } from './provider.js';

/** createProvider builds the provider a config names. */
export function createProvider(config: Config, runId: string): Provider {
  switch (config.provider.type) {
    case 'local':
      return new LocalProvider(config.provider, runId);
    case 'aws':
      return new AwsProvider(config.provider, runId, config.snapshots, { boot: config.boot });
  }
}
