import path from 'node:path';
import type { CheckRun } from '../checks/runner.js';
import type { Config } from '../config/types.js';
import { errorMessage } from '../errors.js';
import { ed25519FileSigner, kmsSigner, type Signer } from '../evidence/sign.js';
import { writeEvidencePack, type EvidenceFile } from '../evidence/manifest.js';
import { redactConfig } from '../evidence/redact.js';
import { recordFromReport } from '../history/record.js';
import { historyView } from '../judges/trends.js';
import { notifyClients } from '../notify/clients.js';
import { notifyAfterRun } from '../notify/index.js';
import { openHistory } from '../providers/history.js';
import { createKmsApi } from '../providers/kms.js';
import type { NotificationOutcome, RunReport } from '../report/types.js';
import { REPORT_FILES } from '../report/write.js';
import { VERSION } from '../version.js';

/** FactLog keeps every check run of a run, with its raw facts, for the evidence pack. */
export class FactLog {
  private readonly runs: { snapshot: string; run: CheckRun }[] = [];
  readonly add = (snapshot: string, run: CheckRun): void => void this.runs.push({ snapshot, run });

  /** files are one NDJSON file per snapshot under facts/: each line a check run (check, target, status, facts, protocol errors, stderr tail). */
  files(): EvidenceFile[] {
    const by = new Map<string, string[]>();
    for (const { snapshot, run } of this.runs) {
      const line = JSON.stringify({ check: run.check, target: run.target, status: run.status, exitCode: run.exitCode, durationMs: run.durationMs, facts: run.facts, protocolErrors: run.protocolErrors, stderrTail: run.stderrTail });
      by.set(snapshot, [...(by.get(snapshot) ?? []), line]);
    }
    return [...by].map(([snapshot, lines]) => ({ path: `facts/${snapshot}.ndjson`, content: `${lines.join('\n')}\n` }));
  }
}

/** log is where the after-run steps say what went wrong: they never fail the run. */
type Log = (line: string) => void;

/** HistoryOptions say whose record this is: a shard of a fleet run ("2-of-4"), and whether to store it at all. */
export interface HistoryOptions {
  shard?: string;
  /** False for a merged fleet run: its shards stored their records already, and the store merges them when listing. */
  store?: boolean;
}

/**
 * recordHistory reads the past runs from the history store and puts the comparison into the report, then stores this
 * run's record (one object per run and shard, never rewriting another). A store that cannot be read or written is an
 * outcome in report.notifications, never a failed run.
 */
export async function recordHistory(report: RunReport, config: Pick<Config, 'output' | 'provider'>, log: Log, opts: HistoryOptions = {}): Promise<NotificationOutcome> {
  const where = config.output.history;
  try {
    const store = openHistory(where, config);
    const past = await store.list({ limit: config.output.historyRuns, before: report.runId });
    for (const s of past.skipped) log(`history: skipped ${s.key}: ${s.reason}`);
    const record = recordFromReport(report, opts.shard);
    report.history = historyView(record, past.records);
    if (opts.store ?? true) await store.write(record);
    return { channel: 'history', target: where, ok: true };
  } catch (e) {
    log(`history ${where}: ${errorMessage(e)}`);
    return { channel: 'history', target: where, ok: false, error: errorMessage(e) };
  }
}

/** notify sends the configured alerts and metrics; outcomes go into the report, the exit code stays the report's. */
export async function notify(report: RunReport, config: Pick<Config, 'output' | 'notify' | 'provider'>, reportDir: string, log: Log): Promise<NotificationOutcome[]> {
  const n = config.notify;
  if (!config.output.metrics && !n.sns && !n.eventBridge && !n.webhook && !n.cloudwatch) return [];
  return notifyAfterRun(
    report,
    {
      ...(config.output.metrics ? { metricsFile: config.output.metrics } : {}),
      ...(n.cloudwatch ? { cloudwatch: n.cloudwatch } : {}),
      ...(n.sns ? { sns: n.sns } : {}),
      ...(n.eventBridge ? { eventBridge: n.eventBridge } : {}),
      ...(n.webhook ? { webhook: n.webhook } : {}),
      on: n.on,
      reportPath: path.join(reportDir, REPORT_FILES.html),
    },
    { ...notifyClients(config), log },
  );
}

/** signerOf is the evidence pack's signer: a KMS key by ARN, else an Ed25519 key file. */
export function signerOf(key: string, config: Pick<Config, 'provider'>): Signer {
  if (!/^arn:aws[a-z-]*:kms:/.test(key)) return ed25519FileSigner(key);
  const aws = config.provider.type === 'aws' ? config.provider : undefined;
  return kmsSigner(key, createKmsApi({ ...(aws?.profile ? { profile: aws.profile } : {}), ...(aws?.endpoint ? { endpoint: aws.endpoint } : {}) }));
}

/**
 * packEvidence adds the raw fact logs, the tool excerpts and the redacted config to the run's report directory and
 * signs a manifest of every file in it (evidence/manifest.ts). Without a signing key it is an error the run reports.
 */
export async function packEvidence(report: RunReport, config: Config, reportDir: string, facts: FactLog): Promise<{ manifest: string; files: number }> {
  if (!config.output.signingKey) throw new Error('output.evidence needs output.signingKey (an Ed25519 key file from "snapdrill evidence keygen", or a KMS key ARN)');
  const excerpts: EvidenceFile[] = report.snapshots.map((s) => ({
    path: `excerpts/${s.id}.txt`,
    content: [...s.filesystems.flatMap((f) => f.excerpts.map((x) => ({ ...x, on: f.target }))), ...s.databases.flatMap((d) => d.excerpts.map((x) => ({ ...x, on: `${d.engine} ${d.path}` })))]
      .map((x) => `== ${x.on}: ${x.title}${x.exitCode !== undefined && x.exitCode !== null ? ` (exit ${x.exitCode})` : ''}\n${x.text}\n`)
      .join('\n'),
  }));
  const extra = [...facts.files(), ...excerpts, { path: 'config.json', content: `${JSON.stringify(redactConfig(config), null, 2)}\n` }];
  return writeEvidencePack(reportDir, extra, signerOf(config.output.signingKey, config), { runId: report.runId, tool: 'snapdrill', version: VERSION, createdAt: new Date().toISOString() });
}
