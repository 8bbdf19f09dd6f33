import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { ConfigError } from '../errors.js';
import { parseDuration } from '../util/duration.js';
import { schemaPath } from '../util/paths.js';
import { compiledSchema, describeSchemaErrors } from '../util/schema.js';
import type { AwsProviderConfig, Canary, Config, FleetAccount, FleetConfig, PolicyRule, ReportFormat } from './types.js';

/** CONFIG_SCHEMA is the file name of the configuration's JSON Schema under schemas/. */
export const CONFIG_SCHEMA = 'config.schema.json';

/** DEFAULT_SCRATCH_DIR holds restored copies when the config names no other place (read from the schema's default, for gc). */
export const DEFAULT_SCRATCH_DIR: string = (JSON.parse(readFileSync(schemaPath(CONFIG_SCHEMA), 'utf8')) as { definitions: { localProvider: { properties: { scratchDir: { default: string } } } } }).definitions.localProvider.properties.scratchDir.default;

/** defaultConcurrency sizes parallel verification to the machine: restores and checks mostly wait on I/O. */
export function defaultConcurrency(): number {
  return Math.max(2, os.availableParallelism());
}

/** AWS_DEFAULT_HELPERS is how many helpers' worth of volumes the AWS default concurrency keeps in flight. */
export const AWS_DEFAULT_HELPERS = 4;

/**
 * defaultConcurrencyFor is the concurrency when the config sets none. Locally the work runs on this machine: its
 * CPUs. On AWS it runs on the helpers and this process mostly waits on API calls: what AWS_DEFAULT_HELPERS helpers
 * take at once (helper.volumesPerHelper each), capped by the schema's maximum. A run never starts more than it has
 * snapshots, and launches ceil(min(snapshots, concurrency) / volumesPerHelper) helpers.
 */
export function defaultConcurrencyFor(provider: { type: string; helper?: { volumesPerHelper?: number } }): number {
  if (provider.type !== 'aws') return defaultConcurrency();
  return Math.min(256, AWS_DEFAULT_HELPERS * (provider.helper?.volumesPerHelper ?? 8));
}

/** ConfigValidationError carries every schema issue, each with its JSON path. */
export class ConfigValidationError extends ConfigError {
  readonly issues: { path: string; message: string }[];
  constructor(where: string, issues: { path: string; message: string }[]) {
    const first = issues[0]!;
    super(first.path, `${first.message}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''}`);
    this.message = `${where}: invalid configuration:\n${issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`;
    this.issues = issues;
  }
}

/** readConfigFile parses YAML or JSON text (by content, so either extension works) into a plain object. */
export function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError('', `cannot read config file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const err = doc.errors[0]!;
    const pos = err.linePos?.[0];
    throw new ConfigError('', `${file}${pos ? `:${pos.line}:${pos.col}` : ''}: not valid YAML/JSON: ${err.message.split('\n')[0]}`);
  }
  return doc.toJS() ?? {};
}

/**
 * validateRawConfig checks a parsed config against the schema and returns it typed. Every default lives in the schema
 * (ajv useDefaults fills them in while validating); only what depends on this machine or on another key is computed
 * here: concurrency (the CPUs) and boot.mode (direct when a kernel is given).
 */
export function validateRawConfig(raw: unknown, where: string, baseDir: string): Config {
  const validate = compiledSchema(CONFIG_SCHEMA, { useDefaults: true });
  if (!validate(raw)) throw new ConfigValidationError(where, describeSchemaErrors(validate.errors));
  const r = raw as Record<string, any>;
  const provider = r.provider as Record<string, any>;
  if (provider.type === 'aws') {
    const type = provider.volumeType as string;
    if (provider.iops !== undefined && !['gp3', 'io1', 'io2'].includes(type)) throw new ConfigError('/provider/iops', `iops applies to gp3, io1 and io2 volumes, not ${type}`);
    if ((type === 'io1' || type === 'io2') && provider.iops === undefined) throw new ConfigError('/provider/iops', `${type} volumes need provider.iops`);
    if (provider.helper.shell === 'ssh' && !provider.helper.ssh) throw new ConfigError('/provider/helper/ssh', 'helper.shell is ssh, so helper.ssh (at least keyName) is required');
    if (provider.throughput !== undefined && type !== 'gp3') throw new ConfigError('/provider/throughput', `throughput applies to gp3 volumes only, not ${type}`);
  }
  const resolved: Config = {
    provider: provider.type === 'aws' ? awsProvider(provider, baseDir) : { type: 'local', catalog: path.resolve(baseDir, provider.catalog as string), scratchDir: path.resolve(baseDir, provider.scratchDir as string) },
    snapshots: r.snapshots as Config['snapshots'],
    concurrency: (r.concurrency as number | undefined) ?? defaultConcurrencyFor(provider as { type: string }),
    timeouts: {
      restoreMs: parseDuration(r.timeouts.restore),
      attachMs: parseDuration(r.timeouts.attach),
      checkMs: parseDuration(r.timeouts.check),
      snapshotMs: parseDuration(r.timeouts.snapshot),
    },
    output: outputOptions(r.output as Record<string, any>, baseDir),
    policy: policyOptions(r.policy as Record<string, any>),
    notify: notifyOptions(r.notify as Record<string, any>),
    databases: (() => {
      const { startupTimeout, canaries, ...rest } = r.databases as Record<string, any>;
      return {
        ...(rest as Omit<Config['databases'], 'startupTimeoutMs' | 'canaries'>),
        startupTimeoutMs: parseDuration(startupTimeout as string),
        canaries: (canaries as Record<string, any>[]).map((c) => {
          const { freshWithin, ...other } = c;
          return { ...other, ...(freshWithin ? { freshWithinMs: parseDuration(freshWithin as string) } : {}) } as Canary;
        }),
      };
    })(),
    boot: bootOptions(r.boot as Record<string, any>, baseDir),
  };
  const fleet = fleetOptions(r);
  if (fleet) resolved.fleet = fleet;
  else if (provider.type === 'aws' && !provider.availabilityZone) throw new ConfigError('/provider/availabilityZone', 'is required: the zone restored volumes and helpers are created in (a fleet config, with accounts, organization or regions, finds it per region)');
  if (where !== '(flags)') resolved.source = where;
  return resolved;
}

/** SESSION_LIMITS_MS bound an assumed-role session: STS's 15 minutes to 12 hours. */
const SESSION_LIMITS_MS = [15 * 60_000, 12 * 3_600_000] as const;

/** fleetOptions types the fleet keys (accounts or organization, regions, fleet), or undefined when the config names none. */
function fleetOptions(r: Record<string, any>): Config['fleet'] {
  if (r.accounts === undefined && r.organization === undefined && r.regions === undefined) return undefined;
  const provider = r.provider as Record<string, any>;
  const key = r.accounts !== undefined ? '/accounts' : r.organization !== undefined ? '/organization' : '/regions';
  if (provider.type !== 'aws') throw new ConfigError(key, `names a fleet, which needs provider.type aws (not ${String(provider.type)})`);
  if (r.accounts !== undefined && r.organization !== undefined) throw new ConfigError('/organization', 'accounts and organization exclude each other: list the accounts, or let the Organization list them');
  const f = r.fleet as Record<string, any>;
  const sessionDurationMs = parseDuration(f.sessionDuration as string);
  if (sessionDurationMs < SESSION_LIMITS_MS[0] || sessionDurationMs > SESSION_LIMITS_MS[1]) throw new ConfigError('/fleet/sessionDuration', `${String(f.sessionDuration)} is outside STS's limits for an assumed role (15m to 12h)`);
  const ids = (r.accounts as { id: string }[] | undefined)?.map((a) => a.id) ?? [];
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup) throw new ConfigError('/accounts', `names account ${dup} twice`);
  const o = r.organization as Record<string, any> | undefined;
  const accounts: FleetConfig['accounts'] = r.accounts !== undefined ? { kind: 'list', accounts: r.accounts as FleetAccount[] } : o ? { kind: 'organization', ...(o as Omit<Extract<FleetConfig['accounts'], { kind: 'organization' }>, 'kind'>) } : { kind: 'self' };
  const { sessionDuration: _s, ...caps } = f;
  return {
    accounts,
    regions: (r.regions as string[] | undefined) ?? [provider.region as string],
    ...(caps as Omit<FleetConfig, 'accounts' | 'regions' | 'sessionDurationMs'>),
    sessionDurationMs,
  };
}

/** outputOptions types a validated output section: paths resolved (an s3:// history and a KMS key ARN are kept as they are). */
function outputOptions(o: Record<string, any>, baseDir: string): Config['output'] {
  const dir = path.resolve(baseDir, o.dir as string);
  const history = o.history as string | undefined;
  const key = o.signingKey as string | undefined;
  return {
    dir,
    formats: o.formats as ReportFormat[],
    history: history === undefined ? path.join(dir, 'history') : /^s3:\/\//.test(history) ? history : path.resolve(baseDir, history),
    historyRuns: o.historyRuns as number,
    evidence: o.evidence as boolean,
    ...(key ? { signingKey: /^arn:aws[a-z-]*:kms:/.test(key) ? key : path.resolve(baseDir, key) } : {}),
    ...(o.metrics ? { metrics: path.resolve(baseDir, o.metrics as string) } : {}),
  };
}

/** policyOptions types a validated policy section: the RTO and RPO budgets in milliseconds. */
function policyOptions(p: Record<string, any>): Config['policy'] {
  const { rto, rpo, rules, ...rest } = p;
  return {
    ...(rest as Pick<Config['policy'], 'minimum' | 'allowUnknown'>),
    rules: (rules as Record<string, any>[]).map(({ rto: ruleRto, ...r }) => ({ ...(r as Omit<PolicyRule, 'rtoMs'>), ...(ruleRto ? { rtoMs: parseDuration(ruleRto as string) } : {}) })),
    ...(rto ? { rtoMs: parseDuration(rto as string) } : {}),
    ...(rpo ? { rpoMs: parseDuration(rpo as string) } : {}),
  };
}

/** notifyOptions types a validated notify section: the webhook's timeout in milliseconds. */
function notifyOptions(n: Record<string, any>): Config['notify'] {
  const { webhook, ...rest } = n;
  if (!webhook) return rest as Config['notify'];
  const { timeout, ...hook } = webhook as Record<string, any>;
  return { ...(rest as Config['notify']), webhook: { ...(hook as { url: string }), timeoutMs: parseDuration(timeout as string) } };
}

/** awsProvider types a validated aws provider section: paths resolved, keepOnFailure in milliseconds. */
function awsProvider(provider: Record<string, any>, baseDir: string): Config['provider'] {
  const { keepOnFailure, helper, ...rest } = provider;
  const { ssh, ...helperRest } = helper as Record<string, any>;
  return {
    ...(rest as Omit<AwsProviderConfig, 'helper' | 'keepOnFailureMs'>),
    ...(keepOnFailure ? { keepOnFailureMs: parseDuration(keepOnFailure as string) } : {}),
    helper: {
      ...(helperRest as Omit<AwsProviderConfig['helper'], 'ssh'>),
      ...(ssh ? { ssh: { ...ssh, ...(ssh.privateKeyPath ? { privateKeyPath: path.resolve(baseDir, ssh.privateKeyPath as string) } : {}) } } : {}),
    },
  };
}

/** bootOptions types a validated boot section: durations in milliseconds, paths resolved, the mode from the kernel when unset. */
function bootOptions(b: Record<string, any>, baseDir: string): Config['boot'] {
  const { timeout, memory, kernel, initrd, mode, ...rest } = b;
  const out: Config['boot'] = {
    ...(rest as Omit<Config['boot'], 'timeoutMs' | 'memoryMiB' | 'mode'>),
    mode: mode ?? (kernel ? 'direct' : 'bios'),
    timeoutMs: parseDuration(timeout as string),
    memoryMiB: memory as number,
    ...(kernel ? { kernel: path.resolve(baseDir, kernel as string) } : {}),
    ...(initrd ? { initrd: path.resolve(baseDir, initrd as string) } : {}),
  };
  if (out.mode === 'direct' && !out.kernel) throw new ConfigError('/boot/kernel', 'boot.mode is direct, so boot.kernel is required');
  return out;
}

/** ConfigOverrides are CLI flags layered over (or instead of) a config file. */
export interface ConfigOverrides {
  provider?: string;
  catalog?: string;
  scratchDir?: string;
  out?: string;
  concurrency?: number;
  formats?: string[];
  ids?: string[];
  evidence?: boolean;
  signingKey?: string;
  history?: string;
}

/** loadConfig reads the optional file, applies CLI overrides, validates the result and fills defaults. */
export function loadConfig(file: string | undefined, overrides: ConfigOverrides = {}): Config {
  const raw: Record<string, any> = file ? (readConfigFile(file) as Record<string, any>) : {};
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError('/', 'must be an object (a YAML mapping)');
  }
  const cwd = process.cwd();
  // Flags are resolved against the working directory, the file's values against the file's directory.
  const baseDir = file ? path.dirname(path.resolve(file)) : cwd;
  if (overrides.provider !== undefined || overrides.catalog !== undefined || overrides.scratchDir !== undefined) {
    raw.provider = { ...(raw.provider ?? {}) };
    if (overrides.provider !== undefined) raw.provider.type = overrides.provider;
    if (overrides.catalog !== undefined) raw.provider.catalog = path.resolve(cwd, overrides.catalog);
    if (overrides.scratchDir !== undefined) raw.provider.scratchDir = path.resolve(cwd, overrides.scratchDir);
  }
  if (overrides.out !== undefined) raw.output = { ...(raw.output ?? {}), dir: path.resolve(cwd, overrides.out) };
  if (overrides.formats !== undefined) raw.output = { ...(raw.output ?? {}), formats: overrides.formats };
  if (overrides.concurrency !== undefined) raw.concurrency = overrides.concurrency;
  if (overrides.evidence) raw.output = { ...(raw.output ?? {}), evidence: true };
  if (overrides.signingKey !== undefined) raw.output = { ...(raw.output ?? {}), signingKey: /^arn:/.test(overrides.signingKey) ? overrides.signingKey : path.resolve(cwd, overrides.signingKey) };
  if (overrides.history !== undefined) raw.output = { ...(raw.output ?? {}), history: /^s3:\/\//.test(overrides.history) ? overrides.history : path.resolve(cwd, overrides.history) };
  if (overrides.ids !== undefined && overrides.ids.length > 0) raw.snapshots = [{ ids: overrides.ids }];
  if (!file && raw.provider === undefined) {
    throw new ConfigError('/provider', 'no provider: give a config file, or --provider local --catalog DIR');
  }
  return validateRawConfig(raw, file ?? '(flags)', baseDir);
}
