import type { DebianRelease } from "../../../components/base/index.js";
import { resolveVm, vmStepParams } from "../../../components/virtualization/vm.js";

// Script-tier samples of components/virtualization/vm*.sh: parameters as the component
// renders them, and the order they run in (after the other virtualization scripts).
// The sample VM has no disk, so it needs no storage pool: OVMF runs under TCG, finds
// nothing to boot and drops to its shell; the second run must find the definition
// unchanged (libvirt's own additions ignored), autostart on, the domain running.
export const order: string[] = ["virtualization/vm.sh"];
export const sample = (_release: DebianRelease): Record<string, Record<string, string>> => ({
  "virtualization/vm.sh": vmStepParams(resolveVm({ name: "script-tier-vm", firmware: "uefi", memoryMiB: 128, emulation: true, shutdownTimeoutSeconds: 0 })),
});
