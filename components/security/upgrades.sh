# unattended-upgrades: security updates only (by default), never an automatic reboot,
# and the packages DebVisor versions itself held and excluded.
# Params: DV_CONF (apt.conf text for 52debvisor-unattended-upgrades),
#         DV_PERIODIC (apt.conf text for 21debvisor-periodic),
#         DV_HOLD (package name patterns, space-separated, shell globs),
#         DV_HOOK (the hold helper script).
dv_install unattended-upgrades
dv_write_file /etc/apt/apt.conf.d/52debvisor-unattended-upgrades 644 "$DV_CONF" || true
dv_write_file /etc/apt/apt.conf.d/21debvisor-periodic 644 "$DV_PERIODIC" || true
# Held packages stay held as later layers install them: apt runs the helper after
# every dpkg run.
dv_write_file /usr/local/sbin/debvisor-hold-packages 755 "$DV_HOOK" || true
dv_write_file /etc/debvisor/held-packages 644 "$DV_HOLD" || true
dv_write_file /etc/apt/apt.conf.d/99debvisor-hold 644 'DPkg::Post-Invoke { "if [ -x /usr/local/sbin/debvisor-hold-packages ]; then /usr/local/sbin/debvisor-hold-packages || true; fi"; };' || true
held=$(/usr/local/sbin/debvisor-hold-packages standalone)
[ -z "$held" ] || dv_changed "held $held"

# The configuration must parse and must not plan a reboot.
apt-config dump >/dev/null || dv_die "apt-config rejects the unattended-upgrades configuration"
[ "$(apt-config shell v Unattended-Upgrade::Automatic-Reboot | sed -n "s/^v='\(.*\)'$/\1/p")" = false ] ||
  dv_die "Unattended-Upgrade::Automatic-Reboot is not false"
dv_fact heldPackages "$(apt-mark showhold | paste -sd, -)"
