# Network layer, step 2 of 2 (commit-confirmed). Runs over a NEW SSH connection, dialled
# after the apply step saw the switch finish: reaching the host proves the new network
# config works, so the rollback timer is disarmed (commit). If the rollback already fired,
# this fails saying so. Nothing was switched for this generation: nothing to do.
# Params: DV_GENERATION (the apply step's configuration), DV_ROLLBACK_SECONDS.
[ "${DV_OP:-apply}" = apply ] || exit 0
S=/var/lib/debvisor/network
gen=$DV_GENERATION
secs=$DV_ROLLBACK_SECONDS
mkdir -p "$S"
exec 9>/run/lock/debvisor-network.lock
flock -w $((secs + 120)) 9 || dv_die "timed out waiting for the network switch to finish"
state=$(cat "$S/state" 2>/dev/null || true)
case "$state" in
  "rolledback $gen")
    why=$(cat "$S/rolled-back" 2>/dev/null || true)
    case "$why" in
      *reason=ifup-failed*) dv_die "the new network config was rolled back: ifup failed on the host ($why); the previous config is in place" ;;
      *reason=reboot*) dv_die "the new network config was rolled back: the host rebooted before the change was confirmed, and booted the previous config ($why); change the network settings (or remove $S/rolled-back) to try again" ;;
    esac
    dv_die "the new network config was rolled back: the host did not answer a new SSH connection within ${secs} s after it was applied, so the previous config was restored automatically ($why); change the network settings (or remove $S/rolled-back) to try again"
    ;;
  "switched $gen")
    systemctl stop debvisor-network-rollback.timer 2>/dev/null || true
    systemctl reset-failed debvisor-network-rollback.timer debvisor-network-rollback.service 2>/dev/null || true
    echo "committed $gen" >"$S/state"
    rm -rf "$S/pending"
    dv_changed "confirmed the network change $gen (rollback disarmed)"
    ;;
  "armed $gen")
    # The switch has not started yet: this connection proves nothing about the new config.
    dv_die "the network change $gen has not been switched yet (its apply step lost its session); run again: the rollback restores the previous config after ${secs} s unless a later run confirms it"
    ;;
  *) ;; # nothing was switched for this configuration
esac
if systemctl is-active --quiet debvisor-network-rollback.timer && [ "$(cat "$S/state" 2>/dev/null)" = "committed $gen" ]; then
  dv_die "the rollback timer is still armed after the commit"
fi
dv_fact network_generation "$gen"
