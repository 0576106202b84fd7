import { z } from "zod";
import { USER_NAME } from "../config/formats.js";
import { fail } from "../config/problems.js";
import { FIREWALL_BACKENDS, isCanonicalCidr, isCidr, parsePortRange } from "./firewall.js";
import { MANAGED_SSHD_KEYWORDS, ROOT_LOGIN_POLICIES, SSHD_KEYWORD, managedSshdKeywordMessage } from "./sshd.js";
import { isPackageGlob } from "./upgrades.js";

const cidr = z.string().refine(isCidr, "not an IP address or CIDR network").refine(isCanonicalCidr, "host bits set: use the network address");
const fail2banTime = z.string().regex(/^\d+[smhdw]?$/, 'must be a fail2ban time like "600", "10m", "1h", "1d"');

/** `SecuritySettings`, field by field (stack config `security`). */
export const securitySchema = z.strictObject({
  firewall: z.enum(FIREWALL_BACKENDS, { error: `must be one of ${FIREWALL_BACKENDS.join(", ")}` }).optional(),
  clusterNetworks: z.array(cidr).optional(),
  controllerAddresses: z.array(cidr).optional(),
  nodePorts: z.string({ error: 'must be a port range "first-last"' }).refine((v) => { const r = parsePortRange(v); return r !== undefined && r[0] < r[1]; }, 'must be a port range "first-last"').optional(),
  wireguard: z.boolean({ error: "must be true or false" }).optional(),
  extraRules: z.array(z.strictObject({
    port: z.union([z.number(), z.string()], { error: 'must be a port 1-65535 or a range "first-last"' }).refine((v) => parsePortRange(v) !== undefined, 'must be a port 1-65535 or a range "first-last"'),
    protocol: z.enum(["tcp", "udp"], { error: "must be tcp or udp" }).optional(),
    from: z.array(cidr).min(1, "must name at least one network (leave it out for the cluster networks)").optional(),
    comment: z.string().regex(/^[A-Za-z0-9 ._:-]{1,64}$/, "must be 1-64 letters, digits, space, . _ : -").optional(),
  }, { error: "must be an object" })).optional(),
  trustedInterfaces: z.array(z.string().regex(/^[A-Za-z0-9._-]{1,15}\*?$/, "not an interface name (a trailing * is a wildcard)")).optional(),
  permitRootLogin: z.enum(ROOT_LOGIN_POLICIES, { error: `must be one of ${ROOT_LOGIN_POLICIES.join(", ")}` }).optional(),
  sshAllowUsers: z.array(z.string().regex(USER_NAME, "not a valid user name")).optional(),
  sshdSettings: z.record(z.string(), z.string({ error: "must be a one-line value" }).regex(/^[^\n\r#]*\S[^\n\r#]*$/, "must be a one-line value"))
    .superRefine((rec, ctx) => {
      for (const k of Object.keys(rec)) {
        if (!SSHD_KEYWORD.test(k)) ctx.addIssue({ code: "custom", path: [k], message: "not an sshd_config keyword" });
        else if (MANAGED_SSHD_KEYWORDS.includes(k.toLowerCase())) ctx.addIssue({ code: "custom", path: [k], message: managedSshdKeywordMessage(k) });
      }
    })
    .optional(),
  fail2banMaxRetry: z.number().int("must be an integer from 1 to 100").min(1, "must be an integer from 1 to 100").max(100, "must be an integer from 1 to 100").optional(),
  fail2banFindTime: fail2banTime.optional(),
  fail2banBanTime: fail2banTime.optional(),
  securityUpdatesOnly: z.boolean({ error: "must be true or false" }).optional(),
  portMoveRollbackSeconds: z.number().int("must be an integer from 10 to 3600").min(10, "must be an integer from 10 to 3600").max(3600, "must be an integer from 10 to 3600").optional(),
  heldPackages: z.array(z.string().refine(isPackageGlob, "not a package name or glob")).optional(),
});

/** Rules across fields: hardening must never lock out the provisioning user (safety rule 6). */
export function securityRules(s: z.infer<typeof securitySchema>, provisioningUser?: string): void {
  if (provisioningUser === "root" && s.permitRootLogin === "no") {
    fail("permitRootLogin", "would lock out the provisioning user root (log in as a sudoer, or keep prohibit-password)", s.permitRootLogin);
  }
}
