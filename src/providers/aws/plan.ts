import type { AwsProviderConfig, BootOptions } from '../../config/types.js';
import type { PlanItem, ProviderPlan, SnapshotInfo } from '../../provider.js';

/** EBS_GB_MONTH_USD are us-east-1 list prices per GB-month (storage only; provisioned IOPS/throughput above the baseline are extra). */
export const EBS_GB_MONTH_USD: Record<AwsProviderConfig['volumeType'], number> = { gp3: 0.08, gp2: 0.1, io1: 0.125, io2: 0.125, st1: 0.045, sc1: 0.015 };

/** EC2_HOUR_USD are us-east-1 on-demand Linux list prices of common helper types. */
export const EC2_HOUR_USD: Record<string, number> = {
  't3.medium': 0.0416,
  't3.large': 0.0832,
  'm5.large': 0.096,
  'm6i.large': 0.096,
  'm7i.large': 0.1008,
  'c6i.large': 0.085,
  'm6i.xlarge': 0.192,
};

/** awsPlan estimates the volumes and helpers a run would create for the selected snapshots. */
export function awsPlan(cfg: AwsProviderConfig, snaps: SnapshotInfo[], concurrency: number, boot?: BootOptions): Pick<ProviderPlan, 'creates' | 'estimate'> {
  const gib = snaps.reduce((n, s) => n + s.sizeBytes / 2 ** 30, 0);
  const helpers = snaps.length ? Math.max(1, Math.ceil(Math.min(snaps.length, concurrency) / cfg.helper.volumesPerHelper)) : 0;
  const hours = cfg.estimatedHours;
  const volumeUsd = (gib * EBS_GB_MONTH_USD[cfg.volumeType] * hours) / 730;
  const hourly = EC2_HOUR_USD[cfg.helper.instanceType];
  const helperUsd = hourly === undefined ? null : helpers * hourly * hours;
  const assumptions = [
    `${hours} h of life for every resource (estimatedHours), billed per second with a 60 s minimum`,
    `${cfg.volumeType} storage at $${EBS_GB_MONTH_USD[cfg.volumeType]}/GB-month (us-east-1 list price; other regions differ)`,
    hourly === undefined ? `no list price known for ${cfg.helper.instanceType}: helper cost not included` : `${cfg.helper.instanceType} at $${hourly}/h on demand`,
    'creating volumes from snapshots is free; reading them is not metered; Fast Snapshot Restore is not used',
  ];
  const creates: PlanItem[] = [
    { kind: 'volume', count: snaps.length, detail: `${cfg.volumeType} volumes in ${cfg.availabilityZone}, restored from the snapshots, tagged snapdrill:run-id / snapdrill:expires-at`, bytes: gib * 2 ** 30 },
    { kind: 'helper-instance', count: helpers, detail: `${cfg.helper.instanceType}, up to ${cfg.helper.volumesPerHelper} volumes attached each, in ${cfg.availabilityZone}` },
  ];
  let bootUsd = 0;
  if (boot?.enabled) {
    // At most one boot test per snapshot (one per set): only those whose lint finds a root filesystem are booted.
    const type = boot.instanceType ?? cfg.helper.instanceType;
    const bootHours = Math.max(60_000, boot.timeoutMs) / 3_600_000;
    const rate = EC2_HOUR_USD[type];
    bootUsd = rate === undefined ? 0 : snaps.length * rate * bootHours + (gib * EBS_GB_MONTH_USD.gp3 * bootHours) / 730;
    creates.push(
      { kind: 'boot-image', count: snaps.length, detail: 'at most: an AMI registered from each snapshot holding a root filesystem (the set\'s other snapshots mapped as data volumes), deregistered after its boot test' },
      { kind: 'boot-instance', count: snaps.length, detail: `at most: ${type} in ${boot.subnetId ?? cfg.helper.subnetId ?? cfg.availabilityZone}, ${boot.maxConcurrent} at a time, each up to ${Math.round(boot.timeoutMs / 1000)} s, terminated with its volumes` },
    );
    assumptions.push(rate === undefined ? `no list price known for ${type}: boot-test instances not included` : `boot tests: every snapshot booted for the whole boot.timeout on ${type} (an upper bound)`);
  }
  return { creates, estimate: { usd: helperUsd === null ? null : Math.round((volumeUsd + helperUsd + bootUsd) * 100) / 100, assumptions } };
}
