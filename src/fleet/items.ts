import type { Config, FleetConfig, FleetRunConfig } from '../config/types.js';
import { ConfigError } from '../errors.js';
import type { SnapshotInfo } from '../provider.js';
import { MAX_SHARDS, shardOf, type Shard } from '../run/shard.js';

/** isFleet says whether a config names a fleet (accounts, organization or regions, with an AWS provider). */
export function isFleet(config: Config): config is FleetRunConfig {
  return config.fleet !== undefined && config.provider.type === 'aws';
}

/** ItemRef names one work item of a fleet run: the k-th of n shards of one account's region. */
export interface ItemRef {
  account: string;
  region: string;
  k: number;
  n: number;
}

/** FleetItem is one entry of a run's item list (plan --items): what a workflow's map runs, and what merge expects. No secrets. */
export interface FleetItem {
  /** ACCOUNT/REGION/K/N, as `run --item` takes it. */
  item: string;
  account: string;
  region: string;
  /** K/N within the account-region. */
  shard: string;
  /** Snapshots this item verifies (at plan time). */
  snapshots: number;
  /** Snapshots it verifies at once: its share of the account's and the region's caps. */
  concurrency: number;
}

/** ITEMS_FILE is where a fleet run keeps its item list, in OUT/RUNID/: merge expects every item on it. */
export const ITEMS_FILE = 'items.json';

/** itemName writes an item as `run --item` takes it: ACCOUNT/REGION/K/N. */
export function itemName(ref: ItemRef): string {
  return `${ref.account}/${ref.region}/${ref.k}/${ref.n}`;
}

/** parseItem reads ACCOUNT/REGION/K/N (12-digit account, a region name, 1 ≤ K ≤ N ≤ 1000); anything else names the flag. */
export function parseItem(text: string, what = '--item'): ItemRef {
  const m = /^(\d{12})\/([a-z]{2}(?:-gov)?-[a-z]+-\d)\/(\d+)\/(\d+)$/.exec(text.trim());
  const remedy = 'write it as ACCOUNT/REGION/K/N, e.g. 111111111111/eu-west-1/2/3 (snapdrill plan --items lists a run\'s items)';
  if (!m) throw new ConfigError(what, `"${text}" is not ACCOUNT/REGION/K/N`, remedy);
  const k = Number(m[3]);
  const n = Number(m[4]);
  if (n < 1 || n > MAX_SHARDS || k < 1 || k > n) throw new ConfigError(what, `"${text}": the shard must be K/N with 1 ≤ K ≤ N ≤ ${MAX_SHARDS}`, remedy);
  return { account: m[1]!, region: m[2]!, k, n };
}

/** shardOfItem is the Shard a fleet item runs as: its k/n, with its account and region. */
export function shardOfItem(ref: ItemRef): Shard {
  return { k: ref.k, n: ref.n, account: ref.account, region: ref.region };
}

/** shardCountFor is how many items an account-region's selection is cut into: ceil(snapshots / snapshotsPerItem), at least 1. */
export function shardCountFor(snapshots: number, fleet: Pick<FleetConfig, 'snapshotsPerItem'>): number {
  return Math.min(MAX_SHARDS, Math.max(1, Math.ceil(snapshots / fleet.snapshotsPerItem)));
}

/**
 * itemConcurrency is how many snapshots one item verifies at once. The caps are split when the items are planned, so
 * they hold however many items the engine runs together: maxPerAccount evenly over the config's regions, then over
 * the region's n shards; maxPerRegion over the n shards; never above `concurrency`, never below 1.
 */
export function itemConcurrency(config: Pick<Config, 'concurrency'> & { fleet: Pick<FleetConfig, 'maxPerAccount' | 'maxPerRegion' | 'regions'> }, n: number): number {
  const f = config.fleet;
  return Math.max(1, Math.min(config.concurrency, Math.floor(f.maxPerRegion / n), Math.floor(f.maxPerAccount / f.regions.length / n)));
}

/** AccountRegion is what one account holds in one region: the snapshots the config selects there. */
export interface AccountRegion {
  account: string;
  region: string;
  selected: SnapshotInfo[];
}

/**
 * planItems cuts every account-region into its shards (an empty one still gets one item, so the merged report shows it
 * was looked at), in account then region order, each with its snapshot count and concurrency.
 */
export function planItems(groups: AccountRegion[], config: Pick<Config, 'concurrency'> & { fleet: FleetConfig }): FleetItem[] {
  const sorted = [...groups].sort((a, b) => a.account.localeCompare(b.account) || a.region.localeCompare(b.region));
  return sorted.flatMap((g) => {
    const n = shardCountFor(g.selected.length, config.fleet);
    return Array.from({ length: n }, (_, i) => {
      const ref = { account: g.account, region: g.region, k: i + 1, n };
      return { item: itemName(ref), account: g.account, region: g.region, shard: `${ref.k}/${n}`, snapshots: shardOf(g.selected, ref.k, n).length, concurrency: itemConcurrency(config, n) };
    });
  });
}

/** parseItemList reads an item list (plan --items) and checks every entry; `where` names the file in errors. */
export function parseItemList(text: string, where: string): FleetItem[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(where, `is not JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(data)) throw new ConfigError(where, 'is not a JSON array of items (snapdrill plan --items writes one)');
  return data.map((d, i) => {
    const item = (d as { item?: unknown }).item;
    if (typeof item !== 'string') throw new ConfigError(`${where}[${i}]`, 'has no "item" string (ACCOUNT/REGION/K/N)');
    const ref = parseItem(item, `${where}[${i}].item`);
    return { ...(d as FleetItem), account: ref.account, region: ref.region, shard: `${ref.k}/${ref.n}` };
  });
}
