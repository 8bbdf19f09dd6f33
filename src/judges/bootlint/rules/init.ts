import { cmdlines } from '../bootcfg.js';
import type { LintRule } from '../rule.js';

/** initMissing: /sbin/init, what the initramfs and the kernel start, is absent (unless the command line names another init). */
export const initMissing: LintRule = {
  name: 'init',
  ids: ['init-missing'],
  check({ facts }) {
    const { root } = facts;
    if (root.sbinInit !== false) return [];
    const initArgs = cmdlines(facts.bootcfg).filter((l) => l.init && !l.isDefault).map((l) => `${l.file}:${l.n}: init=${l.init}`);
    return [
      {
        id: 'init-missing',
        severity: initArgs.length ? 'warning' : 'error',
        message: initArgs.length
          ? `/sbin/init does not exist; the kernel command line names another init (${initArgs[0]}), which this lint did not verify`
          : `/sbin/init does not exist (not installed, or a dangling symlink${root.init ? `; ${root.init} is there` : ''}): the initramfs stops with "Target filesystem doesn't have requested /sbin/init" or the kernel panics "No working init found"`,
        remedy: 'install the init system in the source system (Debian/Ubuntu: systemd-sysv; RHEL/Amazon Linux: systemd) or restore the /sbin/init symlink to /lib/systemd/systemd, then take a new snapshot',
        evidence: ['/sbin/init: missing', ...(root.init ? [`${root.init}: present`] : []), ...initArgs.slice(0, 3)],
      },
    ];
  },
};
