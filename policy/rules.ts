/**
 * DebVisor's deploy rules as plain functions over (type, props), so tests can feed
 * them registrations without starting a policy server. `index.ts` wraps them in a
 * CrossGuard PolicyPack.
 */
export interface Rule {
  name: string;
  description: string;
  /** Resource type the rule looks at. */
  type: string;
  /** Violation messages; empty when the resource complies. */
  check(props: Record<string, any>): string[];
}

const REMOTE_COMMAND = "command:remote:Command";

export const RULES: Rule[] = [
  {
    name: "remote-command-pinned-host-key",
    description: "Every SSH command pins the host key (ARCHITECTURE safety rule 1).",
    type: REMOTE_COMMAND,
    check: (p) => (p.connection && !p.connection.hostKey ? [`connection to ${p.connection.host ?? "?"} has no pinned hostKey`] : []),
  },
  {
    name: "remote-command-no-environment",
    description: "No SSH environment variables (Debian's sshd drops them silently) and no previous output sent back.",
    type: REMOTE_COMMAND,
    check: (p) => [
      ...(p.environment && Object.keys(p.environment).length > 0 ? [`sets environment ${Object.keys(p.environment).join(", ")}: pass parameters on stdin`] : []),
      ...(p.addPreviousOutputInEnv !== false ? ["addPreviousOutputInEnv must be false"] : []),
    ],
  },
  {
    name: "remote-command-no-key-in-command",
    description: "No private key material in a command line (ARCHITECTURE safety rule 2).",
    type: REMOTE_COMMAND,
    check: (p) => ["create", "update", "delete"].filter((k) => typeof p[k] === "string" && /PRIVATE KEY-----/.test(p[k])).map((k) => `${k} holds private key material`),
  },
];

/** Violations of every rule for one resource. */
export function checkResource(type: string, props: Record<string, any>): { rule: string; message: string }[] {
  return RULES.filter((r) => r.type === type).flatMap((r) => r.check(props).map((message) => ({ rule: r.name, message })));
}
