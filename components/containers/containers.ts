import * as pulumi from "@pulumi/pulumi";
import { RemoteStep, type ResolvedHost, type StepPart } from "../host/index.js";
import { DEFAULT_RELEASE, type DebianRelease } from "../base/sources.js";
import { checkSettings } from "../config/problems.js";
import { alreadyValidated, settingsOf } from "../config/trusted.js";
import { containersRules, containersSchema, type ContainersSettings } from "./schema.js";
import { containerdStep, crictlStep, dockerStep, kernelStep, swapStep } from "./steps.js";
import { DEFAULT_SANDBOX_IMAGE } from "./versions.js";

export interface ContainersHostArgs extends ContainersSettings {
  /** The host to configure. */
  host: ResolvedHost;
  /** The node's Debian release (package names and versions differ). @default "bookworm" */
  release?: DebianRelease;
  /** Swap off for good (the node has the Kubernetes layer: kubelet needs it). @default false */
  swapOff?: boolean;
}

/** Throws a ConfigError naming each bad field and its value. */
export function validateContainersSettings(s: ContainersSettings, field = "containers"): void {
  checkSettings(containersSchema, s, field, containersRules);
}

/** The parts of a node's containers step, in order (exported for the tests and the VM tier). */
export function containersParts(args: Omit<ContainersHostArgs, "host">): StepPart[] {
  const release = args.release ?? DEFAULT_RELEASE;
  const docker = args.docker ?? true;
  const compose = docker && (args.compose ?? true);
  return [
    { name: "kernel", ...kernelStep() },
    ...(args.swapOff ? [{ name: "swap", ...swapStep() }] : []),
    {
      name: "containerd",
      ...containerdStep({
        release, sandboxImage: args.sandboxImage ?? DEFAULT_SANDBOX_IMAGE, root: args.containerdRoot,
        registryMirrors: args.registryMirrors, insecureRegistries: args.insecureRegistries,
      }),
    },
    { name: "crictl", ...crictlStep() },
    ...(docker ? [{
      name: "docker",
      ...dockerStep({
        release, compose, registryMirrors: args.registryMirrors?.["docker.io"], insecureRegistries: args.insecureRegistries,
        dataRoot: args.dockerDataRoot, logMaxSize: args.logMaxSize ?? "10m", logMaxFiles: args.logMaxFiles ?? 3,
      }),
    }] : []),
  ];
}

/**
 * The containers layer of a node: one step, `<name>-apply`, whose parts prepare the kernel
 * (overlay, br_netfilter, forwarding), turn swap off for Kubernetes nodes, install and
 * configure containerd (systemd cgroups, registry mirrors), point crictl at it, and run
 * Docker Engine + Compose on that same containerd. Each part runs only when the host has
 * not applied it yet.
 */
export class ContainersHost extends pulumi.ComponentResource {
  /** The layer's step: later layers depend on it. */
  readonly ready: pulumi.Resource;
  /** Facts the step reported: containerd_version, crictl, docker_version, compose. */
  readonly facts: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: ContainersHostArgs, opts?: pulumi.ComponentResourceOptions) {
    // Validate before super(): bad input must register nothing.
    if (!alreadyValidated(args)) {
      const { release: _r, swapOff: _s, ...settings } = settingsOf(args);
      validateContainersSettings(settings, "containers");
    }
    super("debvisor:containers:ContainersHost", name, {}, opts);
    const step = new RemoteStep(`${name}-apply`, {
      host: args.host,
      parts: containersParts(args),
      timeoutSeconds: 3600,
      partsRecord: "containers",
    }, { parent: this, dependsOn: opts?.dependsOn }); // children do not inherit the layer's dependsOn
    this.ready = step.command;
    this.facts = step.facts;
    this.registerOutputs({});
  }
}
