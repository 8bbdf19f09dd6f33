import type { Config } from '../config/types.js';
import { InfraError } from '../errors.js';
import { LocalProvider } from './local/local.js';
import type { Provider } from './provider.js';

/** createProvider builds the provider a config names. */
export function createProvider(config: Config, runId: string): Provider {
  switch (config.provider.type) {
    case 'local':
      return new LocalProvider(config.provider, runId);
    case 'aws':
      // Listing, selection and `snapdrill plan` work against EC2; restore, helpers and shells do not exist yet.
      throw new InfraError('provider-incomplete', 'the aws provider can select snapshots and plan a run (snapdrill plan), but cannot run verifications yet', {
        remedy: 'use "snapdrill plan" to see what a run would create; verify raw images (e.g. exported with the EBS direct APIs) with --provider local',
      });
  }
}
