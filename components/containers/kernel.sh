# Kernel prerequisites of containers: modules loaded now and at every boot, sysctls set
# now and at every boot. Params: DV_MODULES (space-separated), DV_MODULES_CONF
# (modules-load.d file), DV_SYSCTLS (space-separated key=value), DV_SYSCTL_CONF (sysctl.d
# file).
#
# Inside a container (a lab host) modules cannot be loaded and /proc/sys may be read-only:
# what is already right counts, the rest is reported and left to the host's kernel.
in_container=false
if systemd-detect-virt --quiet --container 2>/dev/null; then in_container=true; fi
cannot() {
  if [ "$in_container" = true ]; then
    dv_log "warning: $* (this host is a container: its kernel belongs to the machine)"
  else
    dv_die "$*"
  fi
}

dv_write_file /etc/modules-load.d/debvisor-containers.conf 644 "$DV_MODULES_CONF" || true
read -r -a modules <<<"$DV_MODULES"
for m in "${modules[@]}"; do
  [ -d "/sys/module/$m" ] && continue
  if modprobe "$m" 2>/dev/null; then
    dv_changed "loaded module $m"
  else
    cannot "cannot load kernel module $m"
  fi
done

dv_write_file /etc/sysctl.d/90-debvisor-containers.conf 644 "$DV_SYSCTL_CONF" || true
read -r -a sysctls <<<"$DV_SYSCTLS"
for kv in "${sysctls[@]}"; do
  key=${kv%%=*}
  want=${kv#*=}
  file=/proc/sys/${key//.//}
  if [ ! -e "$file" ]; then
    cannot "sysctl $key does not exist (is its module loaded?)"
    continue
  fi
  [ "$(cat "$file")" = "$want" ] && continue
  if sysctl -q -w "$key=$want" >/dev/null 2>&1; then
    dv_changed "set $key=$want"
  else
    cannot "cannot set sysctl $key=$want"
  fi
done
