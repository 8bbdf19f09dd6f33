import type { LintRule } from '../rule.js';

/** autorelabel: /.autorelabel makes the first boot relabel every file and reboot (slow), or is stale when SELinux is off. */
export const autorelabel: LintRule = {
  name: 'autorelabel',
  ids: ['autorelabel'],
  check({ facts }) {
    const ar = facts.autorelabel;
    if (!ar?.present) return [];
    const active = ar.selinux !== null && ar.selinux !== 'disabled';
    return [
      {
        id: 'autorelabel',
        severity: active ? 'warning' : 'info',
        message: active
          ? `/.autorelabel is present and SELinux is ${ar.selinux}: the first boot relabels every file (minutes on a large filesystem) and reboots, so status checks and boot tests may time out`
          : `/.autorelabel is present but SELinux is ${ar.selinux ?? 'not configured (no /etc/selinux/config)'}: nothing will relabel; the file is stale`,
        remedy: active
          ? 'remove /.autorelabel in the source system after a relabel has run (or relabel before the snapshot with fixfiles -F onboot && reboot), or allow a longer boot timeout'
          : 'remove /.autorelabel in the source system',
        evidence: ['/.autorelabel', `SELINUX=${ar.selinux ?? '(no /etc/selinux/config)'}`],
      },
    ];
  },
};
