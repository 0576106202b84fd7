import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { stringify } from "yaml";
import { RemoteStep, parseFacts, type ResolvedHost, type StepPart } from "../host/index.js";
import { clusterConfiguration, kubeadmJoinConfig, renderInitConfig, type KubeadmNode, type KubeadmPlan } from "./kubeadm.js";
import { imagesStep, initStep, joinStep, joiners, kubeletStep, kubernetesPackagesStep, kubernetesRepoStep, tokensStep, vipStep } from "./steps.js";

/** One node of the cluster as the host steps see it. */
export interface KubernetesHostMember {
  /** The node's name in the cluster (`n1`): kubelet registers under it. */
  name: string;
  /** The node's resource name (`debvisor-n1`): its step is `<resourceName>-kubernetes-apply`. */
  resourceName: string;
  /** The node component (parent of the node's kubernetes component). */
  node: pulumi.Resource;
  host: ResolvedHost;
  /** What the node's step waits for (its containers layer: containerd, swap off). */
  after?: pulumi.Resource;
}

/**
 * The parts of a node's `<node>-kubernetes-apply` step, in order: the repository, the
 * packages, kubelet enabled; on a control plane the VIP (keepalived, when the cluster has
 * a controlPlaneEndpoint) and the control-plane images pulled ahead.
 */
export function kubernetesNodeParts(plan: KubeadmPlan, node: string): StepPart[] {
  const s = plan.settings;
  const cpIndex = plan.controlPlanes.findIndex((c) => c.name === node);
  const vip = s.controlPlaneEndpoint;
  return [
    { name: "repo", ...kubernetesRepoStep({ ...s.packageRepository, version: s.version }) },
    { name: "packages", ...kubernetesPackagesStep(s.version) },
    { name: "kubelet", ...kubeletStep() },
    ...(cpIndex >= 0 && vip !== undefined
      ? [{ name: "vip", ...vipStep({ vip: vip.address, interface: vip.interface, members: plan.controlPlanes, self: node }) }] : []),
    ...(cpIndex >= 0 ? [{ name: "images", ...imagesStep(renderInitConfig(plan)) }] : []),
  ];
}

/** A node's Kubernetes host step (`debvisor:kubernetes:KubernetesNode`, `<node>-kubernetes`). */
export class KubernetesNode extends pulumi.ComponentResource {
  /** `<name>-apply`: the cluster steps on this node wait for it. */
  readonly ready: pulumi.Resource;
  /** Facts the step reported (kubeadm_version). */
  readonly facts: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: { host: ResolvedHost; parts: StepPart[]; after?: pulumi.Resource }, opts?: pulumi.ComponentResourceOptions) {
    super("debvisor:kubernetes:KubernetesNode", name, {}, opts);
    const step = new RemoteStep(`${name}-apply`, { host: args.host, parts: args.parts, timeoutSeconds: 3600, partsRecord: "kubernetes" },
      { parent: this, dependsOn: args.after ? [args.after] : [] });
    this.ready = step.command;
    this.facts = step.facts;
    this.registerOutputs({});
  }
}

export interface KubernetesClusterArgs {
  plan: KubeadmPlan;
  /** Every node with the kubernetes layer, in config order (the plan names them). */
  members: KubernetesHostMember[];
  /** Seconds `kubeadm init` waits for the API to answer. @default 300 */
  apiWaitSeconds?: number;
}

/**
 * The cluster's kubeadm steps (`debvisor:kubernetes:KubernetesCluster`, `<cluster>-k8s`):
 * `-init` on the first control plane, then per joining node `-token-<node>` (its join
 * secrets, minted on the first control plane) and `-join-<node>`: control planes one after
 * another, workers in parallel. Adding a node adds its two steps and changes no other.
 * Each node's host step (`<node>-kubernetes-apply`) is registered first, under the node.
 * Secrets (the admin kubeconfig, tokens, certificate keys) travel only as secret outputs
 * and secret stdin, never in plaintext state or on a command line.
 */
export class KubernetesCluster extends pulumi.ComponentResource {
  /** The admin kubeconfig (server: the controlPlaneEndpoint), secret. */
  readonly kubeconfig: pulumi.Output<string>;
  /** `sha256:<hex>` of the cluster CA's public key (what joins pin; no secret). */
  readonly caCertHash: pulumi.Output<string>;
  /** Each node's `<node>-kubernetes` component, by node name. */
  readonly nodes: Readonly<Record<string, KubernetesNode>>;
  /** The steps, by role: `init`, `token-<node>`, `join-<node>`. */
  readonly steps: Readonly<Record<string, pulumi.Resource>>;
  private providerInstance?: k8s.Provider;
  private readonly resourceName: string;

  constructor(name: string, args: KubernetesClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("debvisor:kubernetes:KubernetesCluster", name, {}, opts);
    this.resourceName = name;
    const { plan } = args;
    const byName = new Map(args.members.map((m) => [m.name, m]));
    const member = (n: KubeadmNode) => {
      const m = byName.get(n.name);
      if (m === undefined) throw new Error(`${name}: ${n.name} is in the plan but not a member`);
      return m;
    };
    const nodes: Record<string, KubernetesNode> = {};
    for (const n of [...plan.controlPlanes, ...plan.workers].sort((a, b) => args.members.indexOf(member(a)) - args.members.indexOf(member(b)))) {
      const m = member(n);
      nodes[n.name] = new KubernetesNode(`${m.resourceName}-kubernetes`, { host: m.host, parts: kubernetesNodeParts(plan, n.name), after: m.after }, { parent: m.node });
    }
    this.nodes = nodes;
    const steps: Record<string, pulumi.Resource> = {};

    const first = plan.controlPlanes[0];
    const init = new RemoteStep(`${name}-init`, {
      host: member(first).host, ...initStep(plan, renderInitConfig(plan), args.apiWaitSeconds), secretOutput: true, showStderr: true, timeoutSeconds: 1800,
    }, { parent: this, dependsOn: [nodes[first.name].ready] });
    steps.init = init.command;
    const initFacts = init.stdout.apply(parseFacts);
    const fact = (facts: pulumi.Output<Record<string, string>>, step: string, key: string) => pulumi.secret(facts.apply((f) => {
      if (!f[key]) throw new Error(`${step} reported no ${key}`);
      return f[key];
    }));
    this.kubeconfig = pulumi.secret(fact(initFacts, `${name}-init`, "kubeconfig").apply((b64) => Buffer.from(b64, "base64").toString("utf8")));
    this.caCertHash = pulumi.unsecret(fact(initFacts, `${name}-init`, "ca_cert_hash"));

    // Per joining node, its own token step on the first control plane, then its join.
    // Control planes one at a time: each token step uploads the certificates again under a
    // new key, so the next one's waits for the previous join.
    const clusterConfig = stringify(clusterConfiguration(plan), { lineWidth: 0 });
    let previousControlPlane: pulumi.Resource | undefined;
    for (const n of joiners(plan)) {
      const controlPlane = n.role === "controlPlane";
      const tokenName = `${name}-token-${n.name}`;
      const token = new RemoteStep(tokenName, {
        host: member(first).host, ...tokensStep(plan, n.name, clusterConfig), secretOutput: true, showStderr: true, timeoutSeconds: 600,
      }, { parent: this, dependsOn: [init.command, ...(controlPlane && previousControlPlane ? [previousControlPlane] : [])] });
      steps[`token-${n.name}`] = token.command;
      const tokenFacts = token.stdout.apply(parseFacts);
      const config = kubeadmJoinConfig(plan, n.name, {
        token: fact(tokenFacts, tokenName, `join.${n.name}.token`),
        caCertHash: this.caCertHash,
        ...(controlPlane ? { certificateKey: fact(tokenFacts, tokenName, `join.${n.name}.certificate_key`) } : {}),
      });
      const join = new RemoteStep(`${name}-join-${n.name}`, {
        host: member(n).host, ...joinStep(plan, n.name, tokenName), secretParams: { DV_JOIN_CONFIG: config }, showStderr: true, timeoutSeconds: 1200,
      }, { parent: this, dependsOn: [token.command, nodes[n.name].ready, ...(controlPlane && previousControlPlane ? [previousControlPlane] : [])] });
      steps[`join-${n.name}`] = join.command;
      if (controlPlane) previousControlPlane = join.command;
    }
    this.steps = steps;
    this.registerOutputs({ caCertHash: this.caCertHash, kubeconfig: this.kubeconfig });
  }

  /**
   * A Kubernetes provider on the admin kubeconfig, made on first use (`<name>-provider`):
   * registering it needs the Kubernetes provider plugin, which `npm run setup` does not
   * build by default. Hand it to `KubernetesAddons`.
   */
  provider(): k8s.Provider {
    return (this.providerInstance ??= new k8s.Provider(`${this.resourceName}-provider`, { kubeconfig: this.kubeconfig }, { parent: this }));
  }
}
