import type { Config } from './config/types.js';
import { createProvider } from './providers/factory.js';
import type { PlanItem, Provider, SnapshotInfo } from './provider.js';
import { selectSnapshots } from './select.js';

export type { PlanItem };

/** Plan is what `snapdrill plan` prints: the snapshots a run would verify, what it would create, and an estimate of its cost. */
export interface Plan {
  provider: string;
  snapshots: { id: string; source: string; sizeBytes: number; startTime?: string; volumeId?: string; set?: string; origin?: string }[];
  creates: PlanItem[];
  estimate: { usd: number | null; assumptions: string[] };
}

/**
 * makePlan selects snapshots exactly as a run would and asks the provider what the run would create, without creating
 * anything; a provider that cannot tell says so in the plan rather than guess.
 */
export async function makePlan(config: Config, provider: Provider = createProvider(config, 'plan')): Promise<Plan> {
  const chosen = selectSnapshots(await provider.listSnapshots(), config.snapshots, provider.describe());
  const planned = provider.plan?.(chosen, config) ?? { creates: [], estimate: { usd: null, assumptions: [`${provider.type}: this provider cannot estimate what a run creates`] } };
  return {
    provider: provider.describe(),
    snapshots: chosen.map((s) => ({ ...pick(s), ...(planned.origins ? { origin: planned.origins[s.id] } : {}) })),
    creates: planned.creates,
    estimate: planned.estimate,
  };
}

function pick(s: SnapshotInfo): Plan['snapshots'][number] {
  return {
    id: s.id,
    source: s.source,
    sizeBytes: s.sizeBytes,
    ...(s.startTime ? { startTime: s.startTime } : {}),
    ...(s.volumeId ? { volumeId: s.volumeId } : {}),
    ...(s.set ? { set: s.set } : {}),
  };
}
