/**
 * Hostile image weird-names (fixtures/build-hostile.sh): two SQLite databases in /srv/app/data whose file names hold a
 * control character and invalid UTF-8: good-\x01-\xff\xfe.db (clean) and bad-\x01-\xff\xfe.db (corrupt: index entries
 * that do not match their rows).
 *
 * On the code before the trust boundary (commit 2e029dc) the names were rewritten on the way (the control character
 * dropped by json_str, the invalid bytes turned into U+FFFD), so both were "skipped: no file at ..." under the wrong
 * name and the corrupt one was never checked. Paths must travel as bytes and be checked under their real names.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type HostileRun, expectCompletedCleanly, expectImagesUnchanged, expectNoLeftovers, hostileRun, manifest } from './helpers.js';

const ID = 'snap-hostile-weird-names';
const DIR = '/srv/app/data';

describe('hostile: database file names with a control character and invalid UTF-8', () => {
  let r: HostileRun;

  beforeAll(async () => {
    const m = manifest().images['weird-names'];
    expect(m.dir).toBe(DIR);
    // the images really carry the bytes this test is about
    expect(Buffer.from(m.namesHex.good, 'hex')).toEqual(Buffer.from([...Buffer.from('good-'), 0x01, 0x2d, 0xff, 0xfe, ...Buffer.from('.db')]));
    expect(Buffer.from(m.namesHex.bad, 'hex')).toEqual(Buffer.from([...Buffer.from('bad-'), 0x01, 0x2d, 0xff, 0xfe, ...Buffer.from('.db')]));
    r = await hostileRun(['weird-names'], { timeoutMs: 600_000 });
  }, 700_000);

  it('completes with a verdict, leaves nothing running or attached, and does not write the source image', () => {
    expectCompletedCleanly(r);
    expectNoLeftovers(r);
    expectImagesUnchanged(r);
  });

  it('checks both databases under their real names: the clean one clean, the corrupt one corrupt', () => {
    const s = r.snapshot(ID);
    const sq = s.databases.filter((d) => d.engine === 'sqlite');
    const summary = sq.map((d) => `${JSON.stringify(d.path)}: ${d.state}: ${d.summary}`).join(' | ');
    expect(sq, summary).toHaveLength(2);
    const good = sq.find((d) => d.path.startsWith(`${DIR}/good-`));
    const bad = sq.find((d) => d.path.startsWith(`${DIR}/bad-`));
    expect(good, summary).toBeDefined();
    expect(bad, summary).toBeDefined();
    expect(good!.state, summary).toBe('clean-shutdown');
    expect(bad!.state, summary).toBe('corrupt');
    expect(s.consistency, s.summary).toBe('corrupt');
    expect(s.policy.pass).toBe(false);
    expect(r.code).toBe(1);
  });

  it('keeps control characters out of the terminal and out of junit.xml (XML 1.0 cannot carry \\x01, not even as &#1;)', () => {
    expect(/[\x00-\x08\x0b\x0c\x0e-\x1f]/.test(r.stdout.replace(/\x1b\[[0-9;]*m/g, '')), 'raw C0 control on stdout').toBe(false);
    expect(/[\x01-\x08\x0b\x0c\x0e-\x1f]/.test(r.stderr), 'raw C0 control on stderr').toBe(false);
    const junit = Object.entries(r.reportFiles).find(([f]) => f.endsWith('junit.xml'))?.[1];
    expect(junit, 'junit.xml').toBeDefined();
    expect(/[\x00-\x08\x0b\x0c\x0e-\x1f]|&#0*[1-8];|&#x0*[1-8bcef];|&#0*(11|12|1[4-9]|2\d|3[01]);|&#x0*1[0-9a-f];/i.test(junit!)).toBe(false);
  });
});
