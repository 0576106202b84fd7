import { z } from "zod";
import { isIP } from "node:net";
import { BOND_MODES, IFACE_NAME, LACP_RATES, XMIT_HASH_POLICIES, isAddressWithPrefix } from "../components/network/interfaces.js";

const ifaceName = z.string().regex(IFACE_NAME, "not an interface name (letter first, then letters, digits, _ or -, at most 15)");
const addressWithPrefix = z.string().refine(isAddressWithPrefix, "not an IP address with a prefix length like 10.0.0.5/24");
const ipAddress = z.string().refine((v) => isIP(v) !== 0, "not an IP address");

const bridgeSchema = z.strictObject({
  name: ifaceName.optional(),
  ports: z.array(ifaceName).min(1, "must name at least one interface (leave it out for the one carrying the host's address)").optional(),
  address: addressWithPrefix.optional(),
  gateway: ipAddress.optional(),
  dnsNameservers: z.array(ipAddress).optional(),
  stp: z.boolean().optional(),
  forwardDelay: z.number().int().min(0).max(30).optional(),
});

const bondSchema = z.strictObject({
  name: ifaceName,
  mode: z.enum(BOND_MODES, { error: `must be one of ${BOND_MODES.join(", ")}` }),
  slaves: z.array(ifaceName),
  address: addressWithPrefix.optional(),
  gateway: ipAddress.optional(),
  miimon: z.number().int().min(0).max(10000).optional(),
  lacpRate: z.enum(LACP_RATES, { error: `must be one of ${LACP_RATES.join(", ")}` }).optional(),
  xmitHashPolicy: z.enum(XMIT_HASH_POLICIES, { error: `must be one of ${XMIT_HASH_POLICIES.join(", ")}` }).optional(),
  primary: ifaceName.optional(),
});

const vlanSchema = z.strictObject({
  id: z.number().int().min(1, "must be an integer from 1 to 4094").max(4094, "must be an integer from 1 to 4094"),
  link: ifaceName,
  address: addressWithPrefix.optional(),
  gateway: ipAddress.optional(),
});

/**
 * `network`: br0, VLANs, bonds (merged field by field over `defaults.network`).
 * `bridge: false` leaves the host's network as it is. The rules that relate fields to
 * each other (a VLAN on an undefined link, a slave used twice, ...) are the component's
 * own `validateNetworkSettings`, reported here with the field it names.
 */
export const networkSchema = z
  .strictObject({
    // `false` or the bridge object; parsed by hand so a problem inside the object is
    // reported with its own path (a union reports only "Invalid input").
    bridge: z.unknown().transform((v, ctx): z.infer<typeof bridgeSchema> | false | undefined => {
      if (v === false || v === undefined) return v;
      const r = bridgeSchema.safeParse(v);
      if (r.success) return r.data;
      for (const issue of r.error.issues) ctx.addIssue({ ...issue } as Parameters<typeof ctx.addIssue>[0]);
      return z.NEVER;
    }).optional(),
    vlans: z.array(vlanSchema).optional(),
    bonds: z.array(bondSchema).optional(),
    rollbackSeconds: z.number().int().min(10).max(3600).optional(),
  });
// The rules that relate fields to each other (a VLAN on an undefined link, a slave used
// twice, ...) are checked by the loader on the settings merged over `defaults.network`.
