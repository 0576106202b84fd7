import * as pulumi from "@pulumi/pulumi";
import { resolveHost, validateHostArgs, type HostArgs } from "./host/index.js";
import { DebianBase, validateDebianBaseArgs, type DebianBaseArgs } from "./base/index.js";
import { DEFAULT_PROFILE, PROFILE_NAMES, layersOf, type Layer, type Profile } from "./management/index.js";

export interface DebVisorNodeArgs {
  /** How to reach the host. */
  host: HostArgs;
  /** Which layers the node gets. @default "hyperconverged" */
  profile?: Profile;
  /** Debian base layer settings. @default {} (bookworm, deb.debian.org, en_US.UTF-8, UTC) */
  base?: Omit<DebianBaseArgs, "host">;
}

export function validateDebVisorNodeArgs(args: DebVisorNodeArgs, field = "node"): void {
  validateHostArgs(args.host, `${field}.host`);
  if (args.profile !== undefined && !PROFILE_NAMES.includes(args.profile)) {
    throw new Error(`${field}.profile: must be one of ${PROFILE_NAMES.join(", ")}, got ${JSON.stringify(args.profile)}`);
  }
  validateDebianBaseArgs(args.base ?? {}, `${field}.base`);
}

/** One Debian host turned into a DebVisor node; its profile picks the layers. */
export class DebVisorNode extends pulumi.ComponentResource {
  readonly address: string;
  readonly profile: Profile;
  readonly layers: readonly Layer[];
  readonly base: DebianBase;
  /** Host facts reported by the base layer. */
  readonly facts: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: DebVisorNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    // Validate before super(): bad input must register nothing.
    validateDebVisorNodeArgs(args);
    super("debvisor:index:DebVisorNode", name, {}, opts);
    const host = resolveHost(args.host);
    this.address = host.address;
    this.profile = args.profile ?? DEFAULT_PROFILE;
    this.layers = layersOf(this.profile);
    this.base = new DebianBase(`${name}-base`, { ...args.base, host }, { parent: this });
    this.facts = this.base.facts;
    this.registerOutputs({ address: this.address, profile: this.profile, facts: this.facts });
  }
}
