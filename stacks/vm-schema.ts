import { z } from "zod";
import { refineWith } from "./refine.js";
import {
  BRIDGE_NAME, DISK_FORMATS, DISK_NAME, FIRMWARES, HOSTNAME, IMAGE_PATH, LIBVIRT_NAME, MAC, VM_NAME, validateVmSettings, type VmSettings,
} from "../components/virtualization/vm.js";
import { isPublicKey } from "../components/host/index.js";

const int = (min: number, max: number) => z.number().int(`must be an integer from ${min} to ${max}`).min(min, `must be an integer from ${min} to ${max}`).max(max, `must be an integer from ${min} to ${max}`);
const libvirtName = z.string().regex(LIBVIRT_NAME, "not a libvirt name (letters, digits, . _ -)");

const diskSchema = z.strictObject({
  name: z.string().regex(DISK_NAME, "must be 1-32 letters, digits, _ - starting with a letter or digit"),
  sizeGiB: int(1, 65536),
  pool: libvirtName.optional(),
  baseImage: z.string().regex(IMAGE_PATH, "must be an absolute path on the host (letters, digits, . _ + - /)").optional(),
  format: z.enum(DISK_FORMATS, { error: "must be qcow2 or raw" }).optional(),
});

const nicSchema = z.strictObject({
  bridge: z.string().regex(BRIDGE_NAME, "not an interface name (1-15 letters, digits, . _ -)").optional(),
  network: libvirtName.optional(),
  vlan: int(1, 4094).optional(),
  mac: z.string().regex(MAC, "must be a lowercase MAC address like 52:54:00:12:34:56").optional(),
});

const cloudInitSchema = z.strictObject({
  userData: z.string().optional(),
  sshAuthorizedKeys: z.array(z.string().refine((k) => isPublicKey(k) && !/[\r\n]/.test(k), "not an SSH public key line")).optional(),
  hostname: z.string().regex(HOSTNAME, "not a host name (lowercase letters, digits, -)").optional(),
});

/**
 * One VM of `virtualization.vms[]` (see `VmSettings` in components/virtualization/vm.ts for
 * every field and default). The rules that relate fields to each other (one of bridge or
 * network, unique disk names, a seed needing a disk, user data being a #cloud-config
 * mapping) are the component's own `validateVmSettings`, reported with the field it names.
 */
export const vmSchema = z
  .strictObject({
    name: z.string().regex(VM_NAME, "must be 1-63 letters, digits, . _ - starting with a letter or digit"),
    vcpus: int(1, 512).optional(),
    memoryMiB: int(64, 16 * 1024 * 1024).optional(),
    firmware: z.enum(FIRMWARES, { error: "must be uefi or bios" }).optional(),
    disks: z.array(diskSchema).optional(),
    cloudInit: cloudInitSchema.optional(),
    nics: z.array(nicSchema).optional(),
    autostart: z.boolean().optional(),
    running: z.boolean().optional(),
    shutdownTimeoutSeconds: int(0, 3600).optional(),
    deleteDisksOnDestroy: z.boolean().optional(),
  })
  .superRefine(refineWith("vm", (vm: VmSettings, f) => validateVmSettings(vm, f)));
