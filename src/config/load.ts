import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { ConfigError } from '../errors.js';
import { parseDuration } from '../util/duration.js';
import { compiledSchema, describeSchemaErrors } from '../util/schema.js';
import type { Canary, Config, ReportFormat } from './types.js';

/** CONFIG_SCHEMA is the file name of the configuration's JSON Schema under schemas/. */
export const CONFIG_SCHEMA = 'config.schema.json';

/** DEFAULT_SCRATCH_DIR holds restored copies when the config names no other place. */
export const DEFAULT_SCRATCH_DIR = '/var/tmp/snapdrill';

/** defaultConcurrency sizes parallel verification to the machine: restores and checks mostly wait on I/O. */
export function defaultConcurrency(): number {
  return Math.max(2, os.availableParallelism());
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

/** validateRawConfig checks a parsed config against the schema and returns it typed with defaults applied. */
export function validateRawConfig(raw: unknown, where: string, baseDir: string): Config {
  const validate = compiledSchema(CONFIG_SCHEMA);
  if (!validate(raw)) throw new ConfigValidationError(where, describeSchemaErrors(validate.errors));
  const r = raw as Record<string, any>;
  const provider = r.provider as Record<string, any>;
  if (provider.type === 'aws') {
    const type = (provider.volumeType as string | undefined) ?? 'gp3';
    if (provider.iops !== undefined && !['gp3', 'io1', 'io2'].includes(type)) throw new ConfigError('/provider/iops', `iops applies to gp3, io1 and io2 volumes, not ${type}`);
    if ((type === 'io1' || type === 'io2') && provider.iops === undefined) throw new ConfigError('/provider/iops', `${type} volumes need provider.iops`);
    if (provider.helper?.shell === 'ssh' && !provider.helper?.ssh) throw new ConfigError('/provider/helper/ssh', 'helper.shell is ssh, so helper.ssh (at least keyName) is required');
    if (provider.throughput !== undefined && type !== 'gp3') throw new ConfigError('/provider/throughput', `throughput applies to gp3 volumes only, not ${type}`);
  }
  const resolved: Config = {
    provider:
      provider.type === 'aws'
        ? {
            type: 'aws',
            region: provider.region,
            availabilityZone: provider.availabilityZone,
            ...(provider.endpoint ? { endpoint: provider.endpoint } : {}),
            ...(provider.profile ? { profile: provider.profile } : {}),
            volumeType: provider.volumeType ?? 'gp3',
            ...(provider.iops !== undefined ? { iops: provider.iops } : {}),
            ...(provider.throughput !== undefined ? { throughput: provider.throughput } : {}),
            ...(provider.kmsKeyId ? { kmsKeyId: provider.kmsKeyId } : {}),
            ...(provider.keepOnFailure ? { keepOnFailureMs: parseDuration(provider.keepOnFailure) } : {}),
            helper: {
              ...(provider.helper ?? {}),
              instanceType: provider.helper?.instanceType ?? 'm6i.large',
              volumesPerHelper: provider.helper?.volumesPerHelper ?? 8,
              shell: provider.helper?.shell ?? 'ssm',
              ...(provider.helper?.ssmOutput ? { ssmOutput: { bucket: provider.helper.ssmOutput.bucket, prefix: provider.helper.ssmOutput.prefix ?? 'snapdrill' } } : {}),
              ...(provider.helper?.ssh
                ? {
                    ssh: {
                      ...provider.helper.ssh,
                      user: provider.helper.ssh.user ?? 'ec2-user',
                      port: provider.helper.ssh.port ?? 22,
                      address: provider.helper.ssh.address ?? 'private',
                      ...(provider.helper.ssh.privateKeyPath ? { privateKeyPath: path.resolve(baseDir, provider.helper.ssh.privateKeyPath) } : {}),
                    },
                  }
                : {}),
            },
            estimatedHours: provider.estimatedHours ?? 1,
            allowDefaultNetwork: provider.allowDefaultNetwork ?? false,
          }
        : {
            type: 'local',
            catalog: path.resolve(baseDir, provider.catalog as string),
            scratchDir: path.resolve(baseDir, (provider.scratchDir as string | undefined) ?? DEFAULT_SCRATCH_DIR),
          },
    snapshots: (r.snapshots as Config['snapshots'] | undefined) ?? [],
    concurrency: (r.concurrency as number | undefined) ?? defaultConcurrency(),
    timeouts: {
      restoreMs: parseDuration(r.timeouts?.restore ?? '30m'),
      attachMs: parseDuration(r.timeouts?.attach ?? '2m'),
      checkMs: parseDuration(r.timeouts?.check ?? '10m'),
      snapshotMs: parseDuration(r.timeouts?.snapshot ?? '2h'),
    },
    output: {
      dir: path.resolve(baseDir, (r.output?.dir as string | undefined) ?? 'reports'),
      formats: (r.output?.formats as ReportFormat[] | undefined) ?? ['html', 'json', 'junit'],
    },
    policy: {
      minimum: r.policy?.minimum ?? 'crash-consistent',
      allowUnknown: r.policy?.allowUnknown ?? false,
      rules: r.policy?.rules ?? [],
    },
    databases: {
      enabled: r.databases?.enabled ?? true,
      include: r.databases?.include ?? [],
      exclude: r.databases?.exclude ?? [],
      sqliteScan: r.databases?.sqliteScan ?? true,
      startupTimeoutMs: parseDuration(r.databases?.startupTimeout ?? '10m'),
      maxPerFilesystem: r.databases?.maxPerFilesystem ?? 100,
      canaries: ((r.databases?.canaries ?? []) as Record<string, any>[]).map((c) => {
        const { freshWithin, ...rest } = c;
        return { ...rest, ...(freshWithin ? { freshWithinMs: parseDuration(freshWithin as string) } : {}) } as Canary;
      }),
    },
    boot: (() => {
      const b = (r.boot ?? {}) as Record<string, any>;
      const rel = (f: string | undefined) => (f ? path.resolve(baseDir, f) : undefined);
      const out: Config['boot'] = {
        enabled: b.enabled ?? false,
        lint: b.lint ?? true,
        required: b.required ?? true,
        mode: b.mode ?? (b.kernel ? 'direct' : 'bios'),
        timeoutMs: parseDuration(b.timeout ?? '5m'),
        memoryMiB: b.memory ?? 1024,
        cpus: b.cpus ?? 1,
        accel: b.accel ?? 'auto',
        maxConcurrent: b.maxConcurrent ?? 1,
        targetNvme: b.targetNvme ?? true,
      };
      for (const k of ['match', 'append', 'instanceType', 'subnetId', 'securityGroupIds', 'architecture', 'bootMode', 'enaSupport'] as const) if (b[k] !== undefined) (out as any)[k] = b[k];
      if (b.kernel) out.kernel = rel(b.kernel);
      if (b.initrd) out.initrd = rel(b.initrd);
      if (out.mode === 'direct' && !out.kernel) throw new ConfigError('/boot/kernel', 'boot.mode is direct, so boot.kernel is required');
      return out;
    })(),
  };
  if (where !== '(flags)') resolved.source = where;
  return resolved;
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
  if (overrides.ids !== undefined && overrides.ids.length > 0) raw.snapshots = [{ ids: overrides.ids }];
  if (!file && raw.provider === undefined) {
    throw new ConfigError('/provider', 'no provider: give a config file, or --provider local --catalog DIR');
  }
  return validateRawConfig(raw, file ?? '(flags)', baseDir);
}
