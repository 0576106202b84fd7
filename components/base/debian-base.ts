import * as pulumi from "@pulumi/pulumi";
import { RemoteStep, type ResolvedHost } from "../host/index.js";
import { checkSettings } from "../config/problems.js";
import { alreadyValidated, settingsOf } from "../config/trusted.js";
import { baseSchema } from "./schema.js";
export { isHttpUrl } from "../config/formats.js";
import { DEFAULT_RELEASE, type DebianRelease } from "./sources.js";
import { aptSourcesStep, factsStep, localeStep, packagesStep } from "./steps.js";

/** Packages every DebVisor node gets (locales and tzdata are needed by the locale step). */
export const BASE_PACKAGES = ["locales", "tzdata", "ca-certificates", "curl", "gnupg", "jq", "lsof", "pciutils"];

export interface DebianBaseArgs {
  /** The host to configure. */
  host: ResolvedHost;
  /** Debian release. @default "bookworm" */
  release?: DebianRelease;
  /** Debian archive mirror. @default "http://deb.debian.org/debian" */
  mirror?: string;
  /** Debian security mirror. @default "http://deb.debian.org/debian-security" */
  securityMirror?: string;
  /** Enable the contrib component (ZFS lives there). @default false */
  contrib?: boolean;
  /** Enable non-free and non-free-firmware. @default false */
  nonFree?: boolean;
  /** Enable `<release>-backports`. @default false */
  backports?: boolean;
  /** HTTP proxy for apt (an apt-cacher-ng for air-gapped sites), e.g. `http://10.0.0.1:3142`. @default none */
  aptProxy?: string;
  /** Extra packages on top of BASE_PACKAGES. @default [] */
  packages?: string[];
  /** System locale. @default "en_US.UTF-8" */
  locale?: string;
  /** Timezone. @default "UTC" */
  timezone?: string;
}

/** Throws a ConfigError naming each bad field and its value. */
export function validateDebianBaseArgs(args: Omit<DebianBaseArgs, "host">, field = "base"): void {
  checkSettings(baseSchema, args, field);
}

/**
 * The Debian base layer: deb822 apt sources (optional contrib and backports, mirror and
 * proxy for air-gapped sites), base packages, en_US.UTF-8 and UTC. Its `facts` output
 * reports what the host is (Debian version, kernel, CPU virtualization flags, memory,
 * disks by id).
 */
export class DebianBase extends pulumi.ComponentResource {
  /** Facts about the host: debianVersion, codename, kernel, architecture, cpuVirtFlags, kvm, memoryMiB, cpus, disksById, locale, timezone. */
  readonly facts: pulumi.Output<Record<string, string>>;
  /** The last step: later layers depend on this. */
  readonly ready: pulumi.Resource;

  constructor(name: string, args: DebianBaseArgs, opts?: pulumi.ComponentResourceOptions) {
    // Validate before super(): bad input must register nothing.
    if (!alreadyValidated(args)) validateDebianBaseArgs(settingsOf(args));
    super("debvisor:base:DebianBase", name, {}, opts);
    const release = args.release ?? DEFAULT_RELEASE;
    const packages = [...new Set([...BASE_PACKAGES, ...(args.packages ?? [])])];
    const host = args.host;

    // One step, four parts: a changed parameter runs its own part on the host, no other.
    const steps = new RemoteStep(`${name}-apply`, {
      host,
      parts: [
        { name: "apt", ...aptSourcesStep({
          release,
          mirror: args.mirror ?? "http://deb.debian.org/debian",
          securityMirror: args.securityMirror ?? "http://deb.debian.org/debian-security",
          contrib: args.contrib ?? false,
          nonFree: args.nonFree ?? false,
          backports: args.backports ?? false,
          aptProxy: args.aptProxy,
        }) },
        { name: "packages", ...packagesStep(packages) },
        { name: "locale", ...localeStep(args.locale ?? "en_US.UTF-8", args.timezone ?? "UTC") },
        { name: "facts", ...factsStep(), always: true },
      ],
      timeoutSeconds: 3600,
      partsRecord: "base",
    }, { parent: this, dependsOn: opts?.dependsOn }); // children do not inherit the layer's dependsOn

    this.facts = steps.facts;
    this.ready = steps.command;
    this.registerOutputs({ facts: this.facts });
  }
}
