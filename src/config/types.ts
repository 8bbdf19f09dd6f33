/** Consistency is the per-snapshot verdict (DESIGN.md section 4). */
export type Consistency = 'application-consistent' | 'crash-consistent' | 'corrupt' | 'unknown';

/** ReportFormat is one output format of a run. */
export type ReportFormat = 'html' | 'json' | 'junit';

/** SnapshotSelector picks snapshots; a config's selectors are combined as a union. */
export interface SnapshotSelector {
  ids?: string[];
  volumeIds?: string[];
  tags?: Record<string, string | string[]>;
  latestPerVolume?: number;
}

/** LocalProviderConfig verifies raw image files in a catalog directory on this machine. */
export interface LocalProviderConfig {
  type: 'local';
  catalog: string;
  scratchDir: string;
}

/** HelperSsh says how to reach AWS helpers over SSH. */
export interface HelperSsh {
  keyName: string;
  privateKeyPath?: string;
  user: string;
  port: number;
  address: 'private' | 'public';
  jump?: { host: string; port?: number; user?: string; privateKeyPath?: string; hostKeySha256: string };
}

/** AwsProviderConfig reads EBS snapshots from an AWS account. */
export interface AwsProviderConfig {
  type: 'aws';
  region: string;
  /** Required outside a fleet (the loader checks); a fleet item fills it in from its network or region. */
  availabilityZone: string;
  endpoint?: string;
  profile?: string;
  volumeType: 'gp3' | 'gp2' | 'io1' | 'io2' | 'st1' | 'sc1';
  iops?: number;
  throughput?: number;
  kmsKeyId?: string;
  /** Keep failed snapshots' volumes this long for forensics; undefined deletes them at once. */
  keepOnFailureMs?: number;
  helper: {
    instanceType: string;
    volumesPerHelper: number;
    imageId?: string;
    subnetId?: string;
    securityGroupIds?: string[];
    instanceProfile?: string;
    shell: 'ssm' | 'ssh';
    /** Find the subnet and security group tagged snapdrill:quarantine=true in the account and region (fleets). */
    findNetwork?: boolean;
    ssh?: HelperSsh;
    ssmOutput?: { bucket: string; prefix: string };
  };
  estimatedHours: number;
  /**
   * Run helpers and boot tests in the AZ's default subnet and security group when none is configured.
   * Default false: without helper.subnetId and helper.securityGroupIds (or boot.*), nothing is created.
   */
  allowDefaultNetwork: boolean;
}

/** ProviderConfig is the discriminated union of provider settings. */
export type ProviderConfig = LocalProviderConfig | AwsProviderConfig;

/** PolicyRule overrides the minimum consistency, the RTO budget, or both, for the snapshots it matches. */
export interface PolicyRule {
  match: { ids?: string[]; tags?: Record<string, string> };
  minimum?: 'application-consistent' | 'crash-consistent';
  rtoMs?: number;
}

/** Policy says which results fail the run. */
export interface Policy {
  minimum: 'application-consistent' | 'crash-consistent';
  allowUnknown: boolean;
  rules: PolicyRule[];
  /** RTO budget: restore-to-verified time above it fails the snapshot. */
  rtoMs?: number;
  /** RPO budget: a covered volume without a completed snapshot newer than this fails the run. */
  rpoMs?: number;
}

/** NotifyConfig says where alerts and CloudWatch metrics go after a run. */
export interface NotifyConfig {
  on: ('policy-failure' | 'harness-error' | 'recovery')[];
  sns?: { topicArn: string };
  eventBridge?: { busName?: string; source: string };
  webhook?: { url: string; headers?: Record<string, string>; timeoutMs: number };
  cloudwatch?: { namespace: string; dimensions?: Record<string, string> };
  region?: string;
  endpoint?: string;
}

/** OutputConfig says where reports, history, evidence and metrics go. */
export interface OutputConfig {
  dir: string;
  formats: ReportFormat[];
  /** A directory or s3://bucket/prefix; default DIR/history. */
  history: string;
  historyRuns: number;
  evidence: boolean;
  /** An Ed25519 PEM file (resolved) or a KMS key ARN. */
  signingKey?: string;
  /** Prometheus textfile path (resolved). */
  metrics?: string;
}

/** Engine is a database engine snapdrill can find. */
export type Engine = 'postgresql' | 'mariadb' | 'sqlite' | 'mongodb';

/** Canary is a query whose answer proves the data came back (and how fresh it is). */
export interface Canary {
  name: string;
  engine: Engine;
  database?: string;
  path?: string;
  query: string;
  freshWithinMs?: number;
  atLeast?: number;
  equals?: string;
  match?: { tags?: Record<string, string> };
}

/** DatabaseOptions control database discovery and checks. */
export interface DatabaseOptions {
  enabled: boolean;
  include: { engine: Engine; path: string }[];
  exclude: string[];
  sqliteScan: boolean;
  startupTimeoutMs: number;
  /** Databases checked per filesystem; beyond it the filesystem's database part is unknown (the first ones are still checked). */
  maxPerFilesystem: number;
  canaries: Canary[];
}

/** BootOptions control the pre-boot lint and the boot test. */
export interface BootOptions {
  enabled: boolean;
  lint: boolean;
  required: boolean;
  match?: { ids?: string[]; tags?: Record<string, string> };
  mode: 'bios' | 'uefi' | 'direct';
  kernel?: string;
  initrd?: string;
  append?: string;
  timeoutMs: number;
  memoryMiB: number;
  cpus: number;
  accel: 'auto' | 'kvm' | 'tcg';
  maxConcurrent: number;
  targetNvme: boolean;
  instanceType?: string;
  subnetId?: string;
  securityGroupIds?: string[];
  architecture?: 'x86_64' | 'arm64';
  bootMode?: 'legacy-bios' | 'uefi' | 'uefi-preferred';
  /** Unset: from the source AMI, else true. */
  enaSupport?: boolean;
}

/** FleetAccount is one member account and the role snapdrill assumes in it. */
export interface FleetAccount {
  id: string;
  roleArn: string;
  externalId?: string;
}

/** AccountSource says which accounts a fleet run covers: a list, the Organization's accounts, or the caller's own account (regions only). */
export type AccountSource =
  | { kind: 'list'; accounts: FleetAccount[] }
  | {
      kind: 'organization';
      roleName: string;
      externalId?: string;
      includeOus?: string[];
      excludeOus: string[];
      includeAccounts?: string[];
      excludeAccounts: string[];
    }
  | { kind: 'self' };

/** FleetConfig is a run over several accounts or regions, cut into work items (account × region × shard). */
export interface FleetConfig {
  accounts: AccountSource;
  regions: string[];
  snapshotsPerItem: number;
  maxItems: number;
  maxPerAccount: number;
  maxPerRegion: number;
  toleratedFailurePercent: number;
  sessionDurationMs: number;
}

/** Config is a validated configuration with every default filled in. */
export interface Config {
  provider: ProviderConfig;
  snapshots: SnapshotSelector[];
  concurrency: number;
  /** snapshotMs: the deadline of one snapshot (or set), from restore to boot test; past it, what is left does not run and the snapshot is unknown. */
  timeouts: { restoreMs: number; attachMs: number; checkMs: number; snapshotMs: number };
  output: OutputConfig;
  policy: Policy;
  notify: NotifyConfig;
  databases: DatabaseOptions;
  boot: BootOptions;
  /** Set when the config names accounts, an organization or regions (provider aws): the run is cut into work items. */
  fleet?: FleetConfig;
  /** Where the file was read from, for relative paths and messages; undefined when built from flags only. */
  source?: string;
}

/** FleetRunConfig is a config that names a fleet, with its AWS provider. */
export type FleetRunConfig = Config & { fleet: FleetConfig; provider: AwsProviderConfig };
