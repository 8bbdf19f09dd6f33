import { errorMessage } from '../errors.js';
import { makePlan, type Plan } from '../plan.js';
import type { SnapshotInfo } from '../provider.js';
import { mapLimit } from '../util/concurrency.js';
import type { FleetAccess } from '../provider.js';
import { planItems, type AccountRegion, type FleetItem } from './items.js';

/** RegionPlan is what one account holds in one region: the selection's size, its items, and its plan (or why it could not be read). */
export interface RegionPlan {
  region: string;
  snapshots: number;
  bytes: number;
  items: number;
  usd: number | null;
  creates?: Plan['creates'];
  error?: string;
}

/** AccountPlan is one member account's part of the fan-out, and its estimated cost. */
export interface AccountPlan {
  account: string;
  name?: string;
  regions: RegionPlan[];
  usd: number | null;
}

/** FleetPlan is `snapdrill plan` of a fleet config: every account and region, the work items, totals and cost. */
export interface FleetPlan {
  runId: string;
  accounts: AccountPlan[];
  items: FleetItem[];
  totals: { accounts: number; regions: number; snapshots: number; items: number; usd: number | null; errors: number };
  assumptions: string[];
}

/** sumUsd adds estimates; one unknown makes the sum unknown. */
function sumUsd(values: (number | null)[]): number | null {
  return values.some((v) => v === null) ? null : values.reduce<number>((a, b) => a + (b ?? 0), 0);
}

/**
 * makeFleetPlan lists, in every account and region (at most fleet.maxItems at once), what the config selects, and
 * cuts it into items. An account-region that cannot be read (role, network, API) still gets its one item, so the run
 * tries it and the merged report names it if it fails: nothing is dropped at planning time.
 */
export async function makeFleetPlan(fleet: FleetAccess): Promise<FleetPlan> {
  const { config } = fleet;
  const members = await fleet.listMembers();
  const pairs = members.flatMap((m) => config.fleet.regions.map((region) => ({ m, region })));
  let assumptions: string[] = [];
  const read = await mapLimit(pairs, config.fleet.maxItems, async ({ m, region }) => {
    try {
      const cfg = await fleet.providerConfig(m, region);
      const plan = await makePlan({ ...config, provider: cfg }, fleet.provider(m, cfg, fleet.runId));
      // What the shard split reads of each snapshot: its size, volume and set.
      const selected: SnapshotInfo[] = plan.snapshots.map((s) => ({ ...s, tags: {} }));
      assumptions = plan.estimate.assumptions;
      return { m, region, selected, plan };
    } catch (e) {
      return { m, region, selected: [] as SnapshotInfo[], error: errorMessage(e) };
    }
  });
  const groups: AccountRegion[] = read.map((r) => ({ account: r.m.id, region: r.region, selected: r.selected }));
  const items = planItems(groups, config);
  const accounts: AccountPlan[] = members.map((m) => {
    const regions = read
      .filter((r) => r.m.id === m.id)
      .map((r): RegionPlan => ({
        region: r.region,
        snapshots: r.selected.length,
        bytes: r.selected.reduce((n, s) => n + s.sizeBytes, 0),
        items: items.filter((i) => i.account === m.id && i.region === r.region).length,
        usd: 'plan' in r && r.plan ? r.plan.estimate.usd : null,
        ...('plan' in r && r.plan ? { creates: r.plan.creates } : {}),
        ...('error' in r && r.error ? { error: r.error } : {}),
      }));
    return { account: m.id, ...(m.name ? { name: m.name } : {}), regions, usd: sumUsd(regions.map((r) => r.usd)) };
  });
  const all = accounts.flatMap((a) => a.regions);
  return {
    runId: fleet.runId,
    accounts,
    items,
    totals: { accounts: accounts.length, regions: config.fleet.regions.length, snapshots: all.reduce((n, r) => n + r.snapshots, 0), items: items.length, usd: sumUsd(all.map((r) => r.usd)), errors: all.filter((r) => r.error).length },
    assumptions,
  };
}

/** formatFleetPlan renders the fan-out for a terminal: per account its regions, snapshots, items and cost, then the totals. */
export function formatFleetPlan(plan: FleetPlan): string {
  const usd = (v: number | null) => (v === null ? 'unknown' : `$${v.toFixed(2)}`);
  const out = [`fleet run ${plan.runId}: ${plan.totals.accounts} account(s) × ${plan.totals.regions} region(s), ${plan.totals.snapshots} snapshot(s) in ${plan.totals.items} work item(s), estimated ${usd(plan.totals.usd)}\n`];
  for (const a of plan.accounts) {
    out.push(`  ${a.account}${a.name ? ` (${a.name})` : ''}: ${usd(a.usd)}\n`);
    for (const r of a.regions) out.push(`    ${r.region.padEnd(15)} ${String(r.snapshots).padStart(5)} snapshot(s) ${String(r.items).padStart(3)} item(s) ${usd(r.usd)}${r.error ? `  CANNOT READ: ${r.error}` : ''}\n`);
  }
  if (plan.totals.errors) out.push(`${plan.totals.errors} account-region(s) could not be read: each still gets an item, which will fail and be named in the merged report unless fixed first\n`);
  if (plan.assumptions.length) out.push(`${plan.assumptions.map((a) => `  - ${a}`).join('\n')}\n`);
  return out.join('');
}
