import * as pulumi from "@pulumi/pulumi";
import { RemoteStep, type ResolvedHost } from "../host/index.js";
import { DEFAULT_RELEASE, RELEASES, keyringFor, renderAptProxy, renderDebianSources, type DebianRelease } from "./sources.js";

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

const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;
const LOCALE = /^[a-z]{2,3}_[A-Z]{2}\.UTF-8$/;
const TIMEZONE = /^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+)*$/;

export function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
  } catch {
    return false;
  }
}

/** Throws an error naming the field and the value. */
export function validateDebianBaseArgs(args: Omit<DebianBaseArgs, "host">, field = "base"): void {
  const fail = (f: string, msg: string, v: unknown): never => {
    throw new Error(`${field}.${f}: ${msg}, got ${JSON.stringify(v)}`);
  };
  if (args.release !== undefined && !RELEASES.includes(args.release)) fail("release", `must be one of ${RELEASES.join(", ")}`, args.release);
  for (const f of ["mirror", "securityMirror", "aptProxy"] as const) {
    const v = args[f];
    if (v !== undefined && !isHttpUrl(v)) fail(f, "not an http(s) URL", v);
  }
  (args.packages ?? []).forEach((p, i) => {
    if (!PACKAGE_NAME.test(p)) fail(`packages[${i}]`, "not a Debian package name", p);
  });
  if (args.locale !== undefined && !LOCALE.test(args.locale)) fail("locale", "must look like en_US.UTF-8", args.locale);
  if (args.timezone !== undefined && !TIMEZONE.test(args.timezone)) fail("timezone", "not a timezone name like UTC or Europe/Berlin", args.timezone);
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
    validateDebianBaseArgs(args);
    super("debvisor:base:DebianBase", name, {}, opts);
    const release = args.release ?? DEFAULT_RELEASE;
    const sources = renderDebianSources({
      release,
      mirror: args.mirror ?? "http://deb.debian.org/debian",
      securityMirror: args.securityMirror ?? "http://deb.debian.org/debian-security",
      contrib: args.contrib ?? false,
      nonFree: args.nonFree ?? false,
      backports: args.backports ?? false,
    });
    const packages = [...new Set([...BASE_PACKAGES, ...(args.packages ?? [])])];
    const host = args.host;

    const apt = new RemoteStep(`${name}-apt`, {
      host, script: "base/apt-sources.sh",
      params: { DV_SOURCES: sources, DV_PROXY_CONF: renderAptProxy(args.aptProxy), DV_KEYRING: keyringFor(release) },
    }, { parent: this });
    const pkgs = new RemoteStep(`${name}-packages`, {
      host, script: "base/packages.sh", params: { DV_PACKAGES: packages.join(" ") },
    }, { parent: this, dependsOn: [apt.command] });
    const locale = new RemoteStep(`${name}-locale`, {
      host, script: "base/locale.sh", params: { DV_LOCALE: args.locale ?? "en_US.UTF-8", DV_TIMEZONE: args.timezone ?? "UTC" },
    }, { parent: this, dependsOn: [pkgs.command] });
    const facts = new RemoteStep(`${name}-facts`, {
      host, script: "base/facts.sh", timeoutSeconds: 60,
    }, { parent: this, dependsOn: [locale.command] });

    this.facts = facts.facts;
    this.ready = facts.command;
    this.registerOutputs({ facts: this.facts });
  }
}
