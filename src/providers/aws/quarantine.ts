import type { AwsProviderConfig, BootOptions } from '../../config/types.js';
import { NetworkNotQuarantinedError } from '../../errors.js';

/** helperNetworkMissing names the helper network fields a launch needs that the config lacks. */
export function helperNetworkMissing(cfg: AwsProviderConfig): string[] {
  const missing: string[] = [];
  if (!cfg.helper.subnetId) missing.push('provider.helper.subnetId');
  if (!cfg.helper.securityGroupIds?.length) missing.push('provider.helper.securityGroupIds');
  return missing;
}

/** bootNetworkMissing names the boot-test network fields (boot.*, else helper.*) the config lacks. */
export function bootNetworkMissing(cfg: AwsProviderConfig, boot: Pick<BootOptions, 'subnetId' | 'securityGroupIds'>): string[] {
  const missing: string[] = [];
  if (!(boot.subnetId ?? cfg.helper.subnetId)) missing.push('boot.subnetId (or provider.helper.subnetId)');
  if (!(boot.securityGroupIds?.length ? boot.securityGroupIds : cfg.helper.securityGroupIds)?.length) missing.push('boot.securityGroupIds (or provider.helper.securityGroupIds)');
  return missing;
}

/**
 * requireQuarantine refuses, before anything is created, to run helpers (and boot tests, when enabled) in the default
 * network: without provider.allowDefaultNetwork, the subnet and security groups must be named.
 */
export function requireQuarantine(cfg: AwsProviderConfig, boot?: Pick<BootOptions, 'enabled' | 'subnetId' | 'securityGroupIds'>, what: { helpers: boolean } = { helpers: true }): void {
  if (cfg.allowDefaultNetwork) return;
  const helper = what.helpers ? helperNetworkMissing(cfg) : [];
  if (helper.length) throw new NetworkNotQuarantinedError('helper instances', helper, cfg.availabilityZone);
  if (boot?.enabled) {
    const b = bootNetworkMissing(cfg, boot);
    if (b.length) throw new NetworkNotQuarantinedError('boot-test instances', b, cfg.availabilityZone);
  }
}
