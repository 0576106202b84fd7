import type { DebianRelease } from "../../../components/base/index.js";
import { COCKPIT_CONF, COCKPIT_PORT, LIBVIRTD_DROPIN, NESTED_CONF, NM_UNMANAGED_CONF, networkParams, poolParams, virtualizationPackages } from "../../../components/virtualization/index.js";

// Script-tier samples of components/virtualization/*.sh: parameters as the component renders
// them, and the order they run in (after the base, security and management scripts).
// The check allows emulation (lab hosts have no /dev/kvm) and turns nested on (its
// modprobe.d file is the first run's change). The network is a bridged one: a nat or
// isolated network writes bridge sysctls, and a lab host's /proc/sys is read-only (the
// engine e2e remounts /proc/sys/net for those).
export const order: string[] = [
  "virtualization/kvm-check.sh", "virtualization/packages.sh", "virtualization/libvirtd.sh", "virtualization/cockpit.sh",
  "virtualization/libvirt-net.sh", "virtualization/libvirt-pool.sh",
];
export const sample = (_release: DebianRelease): Record<string, Record<string, string>> => ({
  "virtualization/kvm-check.sh": { DV_ALLOW_EMULATION: "true", DV_NESTED: "true", DV_NESTED_CONF: NESTED_CONF },
  "virtualization/packages.sh": { DV_PACKAGES: virtualizationPackages(true).join(" "), DV_NM_CONF: NM_UNMANAGED_CONF },
  "virtualization/libvirtd.sh": { DV_DROPIN: LIBVIRTD_DROPIN },
  "virtualization/cockpit.sh": { DV_CONF: COCKPIT_CONF, DV_PORT: String(COCKPIT_PORT) },
  "virtualization/libvirt-net.sh": networkParams({ name: "sample-lan", mode: "bridge", bridge: "br0" }),
  "virtualization/libvirt-pool.sh": poolParams({ name: "sample-dir", type: "dir", path: "/srv/debvisor-sample-pool" }),
});
