import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { mergeRun, type MergeOutcome } from '../run/merge.js';
import { executeRun, type RunOptions, type RunOutcome } from '../run/run.js';
import type { FleetAccess } from '../provider.js';
import { ITEMS_FILE, itemConcurrency, parseItem, shardOfItem, type FleetItem, type ItemRef } from './items.js';
import { makeFleetPlan } from './plan.js';

/** ItemRunOptions are a fleet item's run options: those of any run, the run id required, and whether -j was given. */
export type ItemRunOptions = Omit<RunOptions, 'shard' | 'providerFactory' | 'runId'> & { runId: string; concurrency?: number };

/**
 * runItem verifies one work item: the k-th of n shards of one account's region, through that account's role, with the
 * item's share of the caps (unless -j says otherwise). It writes OUT/RUNID/shard-ACCOUNT-REGION-K-of-N/ and, like any
 * shard, sends no alerts: the merge does.
 */
export async function runItem(fleet: FleetAccess, ref: ItemRef, opts: ItemRunOptions): Promise<RunOutcome> {
  const member = await fleet.member(ref.account);
  const region = fleet.regionOf(ref.region);
  const cfg = await fleet.providerConfig(member, region);
  const config = { ...fleet.config, provider: cfg, concurrency: opts.concurrency ?? itemConcurrency(fleet.config, ref.n) };
  const { concurrency: _c, ...run } = opts;
  return executeRun(config, { ...run, shard: shardOfItem(ref), providerFactory: fleet.providerFactory(member, cfg) });
}

/** FleetRunOutcome is a whole fleet run in one process: every item's outcome (or why it failed) and the merged report. */
export interface FleetRunOutcome {
  items: { item: FleetItem; outcome?: RunOutcome; error?: string }[];
  merged: MergeOutcome;
}

/**
 * runFleet runs every item of a fleet config in this process, one after another (each at its own concurrency), then
 * merges them: a small fleet without a workflow engine. An item that throws leaves no report and is named by the merge.
 */
export async function runFleet(fleet: FleetAccess, opts: Omit<ItemRunOptions, 'concurrency'>, log: (line: string) => void): Promise<FleetRunOutcome> {
  const plan = await makeFleetPlan(fleet);
  const runDir = path.join(fleet.config.output.dir, opts.runId);
  mkdirSync(runDir, { recursive: true });
  writeFileSync(path.join(runDir, ITEMS_FILE), `${JSON.stringify(plan.items, null, 2)}\n`);
  const items: FleetRunOutcome['items'] = [];
  for (const item of plan.items) {
    if (opts.signal.aborted) break;
    log(`item ${item.item}: ${item.snapshots} snapshot(s)`);
    try {
      items.push({ item, outcome: await runItem(fleet, parseItem(item.item), opts) });
    } catch (e) {
      log(`item ${item.item} failed: ${(e as Error).message}`);
      items.push({ item, error: (e as Error).message });
    }
  }
  const merged = await mergeRun(runDir, { expect: plan.items.map((i) => shardOfItem(parseItem(i.item))), toleratedPercent: fleet.config.fleet.toleratedFailurePercent, config: fleet.config, log });
  return { items, merged };
}
