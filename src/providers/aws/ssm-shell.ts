import { DescribeInstanceInformationCommand, GetCommandInvocationCommand, GetParameterCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { Credentials } from './central/credentials.js';
import type { AwsProviderConfig } from '../../config/types.js';
import type { Shell, ShellResult, ShellRunOptions } from '../../shells/shell.js';
import { backoff } from '../../util/poll.js';
import { sleep } from '../../util/sleep.js';
import { awsError } from './ec2.js';
import { ssmOutputKey, type ObjectReader } from './s3.js';

/** SSM_STDOUT_LIMIT and SSM_STDERR_LIMIT are what GetCommandInvocation returns at most of each stream. */
export const SSM_STDOUT_LIMIT = 24_000;
export const SSM_STDERR_LIMIT = 8_000;

/** SSM_BUCKET_OUTPUT_LIMIT is the stdout a run returns in full with an output bucket (read back from S3). */
export const SSM_BUCKET_OUTPUT_LIMIT = 4 * 1024 * 1024;

/** Invocation is the part of GetCommandInvocation the shell reads. */
export interface Invocation {
  status: string;
  responseCode: number;
  stdout: string;
  stderr: string;
}

/** SsmOutputBucket is where helpers write full command output (SSM's API keeps only 24,000 characters). */
export interface SsmOutputBucket {
  bucket: string;
  prefix: string;
}

/** SsmApi lists only the SSM calls snapdrill makes; iam/snapdrill-policy.json must grant each (a test checks). */
export interface SsmApi {
  sendCommand(instanceId: string, commands: string[], timeoutSeconds: number, output?: SsmOutputBucket): Promise<string>;
  /** getCommandInvocation answers undefined while SSM does not know the invocation yet (InvocationDoesNotExist). */
  getCommandInvocation(commandId: string, instanceId: string): Promise<Invocation | undefined>;
  /** onlineInstances says which of these instances have an SSM agent that pings as Online. */
  onlineInstances(instanceIds: string[]): Promise<Set<string>>;
  /** getParameter reads one SSM parameter (the public AMI parameters among them); undefined when it does not exist. */
  getParameter(name: string): Promise<string | undefined>;
}

/** createSsmClient builds the SSM client with adaptive retry (SendCommand and polling share a low rate limit). */
export function createSsmClient(cfg: AwsProviderConfig, credentials?: Credentials): SSMClient {
  return new SSMClient({ region: cfg.region, retryMode: 'adaptive', maxAttempts: 10, ...(cfg.profile ? { profile: cfg.profile } : {}), ...(credentials ? { credentials } : {}), ...(cfg.endpoint ? { endpoint: cfg.endpoint } : {}) });
}

/** sdkSsmApi implements SsmApi with the real SDK client. */
export function sdkSsmApi(client: SSMClient): SsmApi {
  return {
    async sendCommand(instanceId, commands, timeoutSeconds, output) {
      const r = await client.send(
        new SendCommandCommand({
          InstanceIds: [instanceId],
          DocumentName: 'AWS-RunShellScript',
          ...(output ? { OutputS3BucketName: output.bucket, OutputS3KeyPrefix: output.prefix } : {}),
          Parameters: { commands, executionTimeout: [String(timeoutSeconds)] },
          TimeoutSeconds: Math.max(30, Math.min(timeoutSeconds, 2_592_000)),
          Comment: 'snapdrill check',
        }),
      );
      return r.Command!.CommandId!;
    },
    async getCommandInvocation(commandId, instanceId) {
      try {
        const r = await client.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }));
        return { status: r.Status ?? 'Pending', responseCode: r.ResponseCode ?? -1, stdout: r.StandardOutputContent ?? '', stderr: r.StandardErrorContent ?? '' };
      } catch (e) {
        if ((e as { name?: string }).name === 'InvocationDoesNotExist') return undefined;
        throw e;
      }
    },
    async getParameter(name) {
      try {
        return (await client.send(new GetParameterCommand({ Name: name }))).Parameter?.Value;
      } catch (e) {
        if ((e as { name?: string }).name === 'ParameterNotFound') return undefined;
        throw e;
      }
    },
    async onlineInstances(instanceIds) {
      const online = new Set<string>();
      let NextToken: string | undefined;
      do {
        const r = await client.send(new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: instanceIds }], ...(NextToken ? { NextToken } : {}) }));
        for (const i of r.InstanceInformationList ?? []) if (i.PingStatus === 'Online' && i.InstanceId) online.add(i.InstanceId);
        NextToken = r.NextToken;
      } while (NextToken);
      return online;
    },
  };
}

/** wrapScript makes the one command AWS-RunShellScript runs: the script travels base64-encoded and runs under bash, so no quoting can break it. */
export function wrapScript(script: string): string {
  return `echo '${Buffer.from(script, 'utf8').toString('base64')}' | base64 -d | bash -s`;
}

const FINAL = new Set(['Success', 'Failed', 'TimedOut', 'Cancelled', 'Cancelling']);

/**
 * SSM_FIRST_POLL_MS is the first GetCommandInvocation delay before any command has been seen to finish: SSM takes
 * about a second to deliver a command and know its invocation (until then: InvocationDoesNotExist).
 */
export const SSM_FIRST_POLL_MS = 1000;

/**
 * deliveryFloors remembers, per SSM API object (one per provider: its helpers share it), the shortest time from a
 * SendCommand answer to the poll that saw a command finished. SSM never delivers and reports a command sooner
 * than its own bookkeeping allows (about 1.5 s), so polling before that floor is a wasted call.
 */
const deliveryFloors = new WeakMap<SsmApi, number>();

/** ssmDeliveryFloorMs is the learnt floor of an SSM API object (undefined before a command finished). */
export function ssmDeliveryFloorMs(api: SsmApi): number | undefined {
  return deliveryFloors.get(api);
}

/**
 * SsmShell runs check scripts on a helper instance through SSM Run Command (AWS-RunShellScript),
 * polling GetCommandInvocation; it detects SSM's 24,000-character output limit instead of trusting a cut answer.
 * Polling is adaptive: the first poll waits the learnt delivery floor (ssmDeliveryFloorMs; 1 s before one is
 * known), then polls back off from 500 ms ×1.5 up to pollMs. One command costs one SendCommand and, once the floor is
 * learnt, usually one GetCommandInvocation for a command that finishes within it.
 */
export class SsmShell implements Shell {
  readonly kind = 'ssm' as const;
  /** Without an output bucket, GetCommandInvocation's 24,000 characters; longer check output is read back in pages. */
  readonly outputLimit: number;

  constructor(
    private readonly api: SsmApi,
    private readonly instanceId: string,
    private readonly opts: { pollMs: number; registrationGraceMs?: number; output?: SsmOutputBucket & { reader: ObjectReader } } = { pollMs: 2000 },
  ) {
    this.outputLimit = opts.output ? SSM_BUCKET_OUTPUT_LIMIT : SSM_STDOUT_LIMIT;
  }

  /**
   * fullOutput returns the invocation's output; when the API cut a stream at its limit and an output bucket is
   * configured, the whole stream is read from S3, where the agent wrote it. Without one, the cut is flagged.
   */
  private async fullOutput(commandId: string, inv: Invocation): Promise<{ stdout: string; stderr: string; truncated: boolean }> {
    const cut = { stdout: inv.stdout.length >= SSM_STDOUT_LIMIT, stderr: inv.stderr.length >= SSM_STDERR_LIMIT };
    const out = this.opts.output;
    if (!out || (!cut.stdout && !cut.stderr)) return { stdout: inv.stdout, stderr: inv.stderr, truncated: cut.stdout || cut.stderr };
    const read = async (stream: 'stdout' | 'stderr') => {
      try {
        return await out.reader.getText(out.bucket, ssmOutputKey(out.prefix, commandId, this.instanceId, stream));
      } catch (e) {
        throw awsError(e, 'GetObject');
      }
    };
    const stdout = cut.stdout ? await read('stdout') : inv.stdout;
    const stderr = cut.stderr ? await read('stderr') : inv.stderr;
    return { stdout: stdout ?? inv.stdout, stderr: stderr ?? inv.stderr, truncated: stdout === undefined || stderr === undefined };
  }

  async run(script: string, o: ShellRunOptions): Promise<ShellResult> {
    const t0 = performance.now();
    const timeoutSeconds = Math.max(1, Math.ceil(o.timeoutMs / 1000));
    let commandId: string;
    try {
      const out = this.opts.output;
      commandId = await this.api.sendCommand(this.instanceId, [wrapScript(script)], timeoutSeconds, out ? { bucket: out.bucket, prefix: out.prefix } : undefined);
    } catch (e) {
      throw awsError(e, 'SendCommand');
    }
    // SSM's own timeout ends the command; ours only bounds the polling, with slack for SSM's bookkeeping.
    const deadline = t0 + o.timeoutMs + 60_000;
    const grace = this.opts.registrationGraceMs ?? 30_000;
    const sent = performance.now();
    const cap = Math.max(1, this.opts.pollMs);
    const pace = backoff({ firstMs: 500, capMs: cap });
    await sleep(Math.min(cap, deliveryFloors.get(this.api) ?? SSM_FIRST_POLL_MS), o.signal);
    for (;;) {
      if (o.signal?.aborted) return { exitCode: null, stdout: '', stderr: 'interrupted', durationMs: performance.now() - t0, timedOut: false, truncated: false };
      let inv: Invocation | undefined;
      try {
        inv = await this.api.getCommandInvocation(commandId, this.instanceId);
      } catch (e) {
        throw awsError(e, 'GetCommandInvocation');
      }
      const elapsed = performance.now() - t0;
      if (inv && FINAL.has(inv.status)) {
        const took = performance.now() - sent;
        deliveryFloors.set(this.api, Math.min(deliveryFloors.get(this.api) ?? Infinity, took));
        const timedOut = inv.status === 'TimedOut';
        const full = await this.fullOutput(commandId, inv);
        return {
          exitCode: timedOut || inv.status.startsWith('Cancel') ? null : inv.responseCode,
          stdout: full.stdout,
          stderr: full.stderr,
          durationMs: elapsed,
          timedOut,
          truncated: full.truncated,
        };
      }
      if (!inv && elapsed > grace) throw awsError(Object.assign(new Error(`command ${commandId} never reached instance ${this.instanceId} (InvocationDoesNotExist for ${Math.round(grace / 1000)}s)`), { name: 'SsmCommandLost' }), 'GetCommandInvocation');
      if (performance.now() > deadline) return { exitCode: null, stdout: inv?.stdout ?? '', stderr: inv?.stderr ?? '', durationMs: elapsed, timedOut: true, truncated: false };
      await sleep(pace(), o.signal);
    }
  }
}
