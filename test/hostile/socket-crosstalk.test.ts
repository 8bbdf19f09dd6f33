/**
 * Hostile image socket-crosstalk (fixtures/build-hostile.sh): two real PostgreSQL 15 clusters, cleanly shut down,
 * whose paths have the same first 6 characters of `printf '%s' PATH | cksum` (found at build time, e.g.
 * /srv/db343/pgdata and /srv/db1306/pgdata). The code before the trust boundary named an engine's socket
 * directory after those 6 characters, and checks two databases of one filesystem at once. Each cluster holds
 * table whoami(tag) in database postgres: 'alpha' in the first, 'beta' in the second; a canary per path proves
 * that each check talked to its own server.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type HostileRun, expectCompletedCleanly, expectImagesUnchanged, expectNoLeftovers, hostileRun, manifest } from './helpers.js';

const ID = 'snap-hostile-socket-crosstalk';

describe('hostile: two databases whose socket directory names collide', () => {
  let r: HostileRun;
  let dirs: [string, string];
  let tags: [string, string];

  beforeAll(async () => {
    ({ dataDirs: dirs, tags } = manifest().images['socket-crosstalk']);
    expect(dirs).toHaveLength(2);
    const canary = (i: 0 | 1) => `    - {name: whoami ${tags[i]}, engine: postgresql, path: ${dirs[i]}, database: postgres, query: "select tag from whoami", equals: ${tags[i]}}\n`;
    r = await hostileRun(['socket-crosstalk'], { timeoutMs: 600_000, extraConfig: `databases:\n  canaries:\n${canary(0)}${canary(1)}` });
  }, 700_000);

  it('completes with a verdict, leaves nothing running or attached, and does not write the source image', () => {
    expectCompletedCleanly(r);
    expectNoLeftovers(r);
    expectImagesUnchanged(r);
  });

  it('judges both clusters correctly: clean shutdown, neither corrupt, the snapshot application-consistent', () => {
    const s = r.snapshot(ID);
    const states = Object.fromEntries(s.databases.map((d) => [d.path, d.state]));
    expect(states, s.databases.map((d) => `${d.path}: ${d.summary}`).join(' | ')).toEqual({ [dirs[0]]: 'clean-shutdown', [dirs[1]]: 'clean-shutdown' });
    expect(s.consistency, s.summary).toBe('application-consistent');
  });

  it('each check talked to its own server: the canaries read alpha and beta from the right clusters', () => {
    const s = r.snapshot(ID);
    const got = s.canaries.map((c) => ({ path: c.path, value: c.value, pass: c.pass }));
    expect(got.sort((a, b) => String(a.path).localeCompare(String(b.path)))).toEqual(
      [
        { path: dirs[0], value: tags[0], pass: true },
        { path: dirs[1], value: tags[1], pass: true },
      ].sort((a, b) => a.path.localeCompare(b.path)),
    );
    expect(s.policy.pass).toBe(true);
    expect(r.code).toBe(0);
  });
});
