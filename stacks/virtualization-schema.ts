import { z } from "zod";
import {
  INTERFACE_NAME, LIBVIRT_OBJECT_NAME, NETWORK_MODES, POOL_PATH, POOL_TYPES, parseIpv4, parseSubnet,
} from "../components/virtualization/index.js";
import { vmSchema } from "./vm-schema.js";
import type { VmSettings } from "../components/virtualization/vm.js";

/**
 * `virtualization`: KVM/QEMU, libvirt networks, pools and VMs, Cockpit: the fields one by
 * one. The rules across fields are validateVirtualizationSettings', which the loader runs
 * on each node's settings merged over `defaults` (see below).
 */
const libvirtName = z.string().regex(LIBVIRT_OBJECT_NAME, "must be 1-50 letters, digits, _ . - (starting with a letter or digit)");
const ipv4 = z.string().refine((v) => parseIpv4(v) !== undefined, "not an IPv4 address");

const networkSchema = z.strictObject({
  name: libvirtName,
  mode: z.enum(NETWORK_MODES, { error: `must be one of ${NETWORK_MODES.join(", ")}` }),
  bridge: z.string().regex(INTERFACE_NAME, "not an interface name (at most 15 letters, digits, _ . -)").optional(),
  subnet: z.string().refine((v) => parseSubnet(v) !== undefined, "must be an IPv4 network in CIDR form with a prefix from /8 to /30 and no host bits").optional(),
  dhcp: z.strictObject({ start: ipv4, end: ipv4 }).optional(),
  autostart: z.boolean().optional(),
});

const poolSchema = z.strictObject({
  name: libvirtName,
  type: z.enum(POOL_TYPES, { error: `must be one of ${POOL_TYPES.join(", ")} (ZFS and RBD pools come from the storage layer)` }),
  path: z.string().regex(POOL_PATH, "must be an absolute directory path (no spaces, no . or .. components, no trailing /)"),
  autostart: z.boolean().optional(),
});

export const virtualizationSchema = z
  .strictObject({
    allowEmulation: z.boolean().optional(),
    nested: z.boolean().optional(),
    cockpit: z.boolean().optional(),
    networks: z.array(networkSchema).optional(),
    pools: z.array(poolSchema).optional(),
    // vmSchema checks each VM; its inferred type is looser than VmSettings (one of bridge or
    // network is a rule of validateVmSettings, not of the type).
    vms: (z.array(vmSchema) as unknown as z.ZodType<VmSettings[]>).optional(),
  });
// The rules across fields (subnet/DHCP, duplicates, a VM's networks and pools) are
// checked by the loader on the settings merged over `defaults.virtualization`: a node's
// VMs may use the networks and pools its defaults define.

