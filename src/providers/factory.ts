import type { Config, FleetRunConfig } from '../config/types.js';
import { AwsFleet, type FleetDeps } from './aws/central/fleet.js';
import { s3RunObjects, type RunObjects } from './aws/central/objects.js';
import { AwsProvider } from './aws/aws.js';
import { LocalProvider } from './local/local.js';
import type { FleetAccess, Provider } from '../provider.js';

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

/** createFleet reaches the accounts and regions of a fleet config (AWS Organizations, STS, one provider per account and region). */
export function createFleet(config: FleetRunConfig, runId: string, deps: FleetDeps = {}): FleetAccess {
  return new AwsFleet(config, runId, deps);
}

/** createRunObjects moves a fleet run's files between S3 and this machine (the central account's S3). */
export function createRunObjects(): RunObjects {
  return s3RunObjects();
}

export { contentTypeOf, isS3Url, joinS3 } from './aws/central/objects.js';
export type { RunObjects } from './aws/central/objects.js';
