import type { Ledger } from './ledger/ledger.js';
import type { CloudRecord, ReleaseOptions } from './ledger/resources.js';
import type { Shell } from './shells/shell.js';
import type { AwsProviderConfig, BootOptions, Config, FleetRunConfig } from './config/types.js';
import type { BootOutcome } from './boot/types.js';

/** SnapshotInfo is a snapshot as a provider lists it. */
export interface SnapshotInfo {
  id: string;
  /** Where it comes from: the image path (local) or the snapshot's region/ARN (AWS). */
  source: string;
  volumeId?: string;
  startTime?: string;
  deviceName?: string;
  /** Key of a multi-volume snapshot set, when the snapshot belongs to one. */
  set?: string;
  /** The account that owns it and its region (AWS). */
  account?: string;
  region?: string;
  tags: Record<string, string>;
  sizeBytes: number;
  /** The KMS key of an encrypted snapshot (AWS), "default" when EBS does not name it. */
  kmsKeyId?: string;
  /** The AMI the snapshot was made for ("Created by CreateImage(i-…) for ami-…", or the snapdrill:source-ami tag): the boot test takes its architecture, boot mode and ENA from it. */
  sourceImageId?: string;
}

/** StageContext is what every provider stage gets: the ledger owner to record resources under, and an abort signal. */
export interface StageContext {
  ledger: Ledger;
  owner: string;
  signal: AbortSignal;
  timeoutMs: number;
}

/** RestoredVolume is a writable copy of one snapshot. */
export interface RestoredVolume {
  snapshot: SnapshotInfo;
  /** Provider-specific handle: a scratch file (local) or a volume id (AWS). */
  handle: string;
  /** A directory on the helper for this snapshot's temporary mounts, inside the run's scratch area. */
  scratch: string;
  /** Bytes actually copied or allocated, when known. */
  allocatedBytes?: number;
}

/** AttachedVolume is a restored volume visible as a block device on the helper. */
export interface AttachedVolume {
  device: string;
  /** The helper the volume is attached to, when there are several (AWS). */
  helper?: string;
  partitionTable?: string;
  /** Problems exposing partitions, reported as evidence rather than thrown. */
  warnings: string[];
}

/** BootRequest is one boot test: the snapshot holding the root filesystem, its restored copy, and the data snapshots restored with it. */
export interface BootRequest {
  snapshot: SnapshotInfo;
  restored: RestoredVolume;
  data: SnapshotInfo[];
  /** The data snapshots' restored copies (local: attached to the VM as extra disks). */
  dataRestored: RestoredVolume[];
  options: BootOptions;
  /** Local boot mode after the snapdrill:boot-mode tag is applied. */
  mode: BootOptions['mode'];
}

/** PlanItem is one kind of resource a run would create. */
export interface PlanItem {
  kind: 'scratch-copy' | 'loop-device' | 'volume' | 'helper-instance' | 'boot-image' | 'boot-instance' | 'vm';
  count: number;
  detail: string;
  /** Bytes of storage these items hold at once (scratch copies) or in total (volumes). */
  bytes?: number;
}

/** ProviderPlan is what a provider says a run over the selected snapshots would create, and what that would cost. */
export interface ProviderPlan {
  creates: PlanItem[];
  estimate: { usd: number | null; assumptions: string[] };
  /** Where each selected snapshot came from (AWS: manual, aws-backup, dlm), by snapshot id, when the provider tells. */
  origins?: Record<string, string>;
}

/** CloudLeftover is a resource snapdrill tagged in a cloud account, with what `gc` did about it. */
export interface CloudLeftover {
  kind: string;
  id: string;
  runId: string;
  expiresAt: string;
  state: string;
  action: 'removed' | 'would-remove' | 'kept-not-expired' | 'kept-in-use' | 'failed';
  error?: string;
  /** Where it is, in a fleet sweep (gc -c FLEET). */
  account?: string;
  region?: string;
}

/** ConsoleCapture is a machine's latest console output, and its screenshot when the cloud gives one. */
export interface ConsoleCapture {
  /** What the console is of (an instance id). */
  source: string;
  text: string;
  screenshotJpegBase64?: string;
}

/** Provider is the only code that knows where snapshots live and how they become block devices. */
export interface Provider {
  readonly type: string;
  /** describe says where snapshots come from, for messages and reports. */
  describe(): string;
  /** preflight fails fast, before anything is created, when the helper cannot do the job. */
  preflight(): Promise<void>;
  /** start creates run-wide resources (recorded in the ledger under owner "run") before any snapshot is restored; `expected` is how many snapshots will be verified. */
  start(ledger: Ledger, expected: number, signal: AbortSignal): Promise<void>;
  listSnapshots(): Promise<SnapshotInfo[]>;
  /**
   * Every completed snapshot of these volumes, for the RPO check: listSnapshots may list only what the selectors name
   * (AWS: the ids asked for), not the newest snapshot of each volume. Unset: listSnapshots already lists every snapshot.
   */
  snapshotsOfVolumes?(volumeIds: string[]): Promise<SnapshotInfo[]>;
  restore(snapshot: SnapshotInfo, ctx: StageContext): Promise<RestoredVolume>;
  attach(volume: RestoredVolume, ctx: StageContext): Promise<AttachedVolume>;
  /** keepOnFailureMs is how long the restored volumes of a snapshot that failed are kept for forensics (keep-on-failure); undefined: not kept. */
  readonly keepOnFailureMs?: number | undefined;
  /**
   * keepForForensics keeps the restored volumes of a snapshot that failed (keep-on-failure), until `until`;
   * returns what was kept, or undefined when the provider does not keep anything. The attachments are still released.
   */
  keepForForensics?(ledger: Ledger, owner: string, until: Date): Promise<string[] | undefined>;
  /** bootTest boots a restored root filesystem and reports how far it got, with its console; what it creates goes into ctx.ledger. */
  bootTest?(req: BootRequest, ctx: StageContext): Promise<BootOutcome>;
  /** shell reaches the helper that sees an attached device (any helper when none is given). */
  shell(attached?: AttachedVolume): Shell;
  /** plan says what a run over the selected snapshots would create and cost, creating nothing (`snapdrill plan`). */
  plan?(selected: SnapshotInfo[], run: Pick<Config, 'concurrency' | 'boot'>): ProviderPlan;
  /**
   * releaseCloud removes one cloud resource a ledger recorded; idempotent (gone already is success). A provider that
   * creates cloud resources has it; the run's ledger and `gc -c CONFIG` are handed it, never a global.
   */
  releaseCloud?(record: CloudRecord, opts: ReleaseOptions): Promise<void>;
  /** collectGarbage removes what snapdrill tagged in the cloud account once it has expired, ledger or not (`gc -c CONFIG`). */
  collectGarbage?(opts: { dryRun: boolean; now?: Date }): Promise<CloudLeftover[]>;
  /** fetchConsole fetches a machine's latest console output (`diagnose --instance`). */
  fetchConsole?(instanceId: string): Promise<ConsoleCapture>;
}

/** FleetMember is an account a fleet run covers, with the role to assume there (none: the caller's own credentials). */
export interface FleetMember {
  id: string;
  roleArn?: string;
  externalId?: string;
  /** The account's name in the Organization, when listed from it. */
  name?: string;
}

/**
 * FleetAccess reaches the accounts and regions of a fleet config (providers/aws/central/fleet.ts): who the members are,
 * one role session per member, and a provider per account and region. The fleet's planning and runs (src/fleet/) use
 * only this.
 */
export interface FleetAccess {
  readonly config: FleetRunConfig;
  readonly runId: string;
  /** listMembers lists the fleet's accounts (once per process). */
  listMembers(): Promise<FleetMember[]>;
  /** member is one account of the fleet, for an item; an account not in a listed fleet is a usage error. */
  member(account: string): Promise<FleetMember>;
  /** regionOf checks that a region is one of the config's. */
  regionOf(region: string): string;
  /** providerConfig is the provider section for one account and region (its network found when helper.findNetwork). */
  providerConfig(member: FleetMember, region: string): Promise<AwsProviderConfig>;
  /** provider builds the provider of one account and region. */
  provider(member: FleetMember, cfg: AwsProviderConfig, workId: string): Provider;
  /** providerFactory is executeRun's factory for one item. */
  providerFactory(member: FleetMember, cfg: AwsProviderConfig): (config: Config, workId: string) => Provider;
  /** releaser releases a ledger's cloud record through its account and region (gc). */
  releaser(): (record: CloudRecord, opts: ReleaseOptions) => Promise<void>;
  /** assumeRoleCalls counts the role sessions opened (STS AssumeRole), for the bench and the tests. */
  assumeRoleCalls(): number;
}
