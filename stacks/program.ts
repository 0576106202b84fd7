import * as pulumi from "@pulumi/pulumi";
import { DebVisorCluster } from "../components/index.js";
import type { CephCluster } from "../components/storage/index.js";
import type { KubernetesClusterPlan } from "../components/kubernetes/cluster.js";
import { setFlagsFromString } from "node:v8";
import { loadStackConfig, type LoadOptions } from "./load.js";

/** Validates the stack config, then registers the cluster: bad config registers nothing. */
export function deployStack(raw: unknown, options: LoadOptions = {}): DebVisorCluster {
  boundHeapGrowth();
  return new DebVisorCluster("debvisor", loadStackConfig(raw, options));
}

/**
 * After each full collection V8 lets the heap grow by a factor it picks from the
 * allocation rate, up to 4x. The program is a batch job that registers every resource at
 * once: at 1000 hyperconverged nodes about 450 MB is really in flight, and the picked
 * factor let the heap reach 1.2 GB of mostly garbage before the next collection. 1.5x
 * keeps the peak near 0.9 GB for a few percent more time (README, Benchmarks). A
 * `--heap-growing-percent` given to node itself wins.
 */
export const HEAP_GROWING_PERCENT = 50;
function boundHeapGrowth(): void {
  if (/--heap-growing-percent/.test(`${process.execArgv.join(" ")} ${process.env.NODE_OPTIONS ?? ""}`)) return;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}

/**
 * The stack outputs: what each node now is (its SSH `port` tells the next run where sshd
 * listens), the Ceph cluster (fsid, monitors; the CSI client keys as secrets) when there is
 * one, and the Kubernetes cluster's admin kubeconfig (secret) when DebVisor set one up.
 */
export function stackOutputs(cluster: DebVisorCluster) {
  const ceph = (cluster.services.storage as { ceph?: CephCluster } | undefined)?.ceph;
  const nodes = Object.fromEntries(
    Object.entries(cluster.nodes).map(([name, node]) => [name, {
      address: node.address, port: node.port, profile: node.profile, facts: node.facts, ...(node.preseed !== undefined ? { preseed: node.preseed } : {}),
    }]),
  );
  const kubeconfig = (cluster.services.kubernetes as KubernetesClusterPlan | undefined)?.kubeconfig;
  return {
    nodes,
    ...(ceph ? { ceph: { fsid: ceph.fsid, monitors: ceph.monitors, clientKeys: ceph.clientKeys, osdNodes: ceph.osdNodes } } : {}),
    ...(kubeconfig ? { kubernetes: { kubeconfig } } : {}),
  };
}

/**
 * What this stack's last successful run left in its outputs (a run that failed leaves them
 * as they were): each node's SSH port, so a changed `port` moves sshd from there; the nodes
 * that had Ceph OSDs, so one cannot leave the cluster with its data.
 */
export async function previousOutputs(): Promise<{ sshPorts: Record<string, number>; cephOsdNodes: string[] }> {
  const self = new pulumi.StackReference(`${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`);
  const nodes = (await self.getOutputDetails("nodes")).value as Record<string, { port?: unknown }> | undefined;
  // `ceph` holds the (secret) client keys, so the engine hands the whole object back as a secret.
  const cephDetails = await self.getOutputDetails("ceph");
  const ceph = (cephDetails.value ?? cephDetails.secretValue) as { osdNodes?: unknown } | undefined;
  return {
    sshPorts: Object.fromEntries(Object.entries(nodes ?? {}).flatMap(([name, n]) => (typeof n?.port === "number" ? [[name, n.port]] : []))),
    cephOsdNodes: Array.isArray(ceph?.osdNodes) ? ceph.osdNodes.filter((n): n is string => typeof n === "string") : [],
  };
}

/** Reads `debvisor:cluster` (and the optional secret `debvisor:sshPrivateKey`) from the stack. */
export async function deployFromPulumiConfig(config = new pulumi.Config("debvisor")): Promise<DebVisorCluster> {
  return deployStack(config.requireObject<unknown>("cluster"), {
    sshPrivateKey: config.get("sshPrivateKey") !== undefined ? config.requireSecret("sshPrivateKey") : undefined,
    ...await previousOutputs().then((p) => ({ currentSshPorts: p.sshPorts, previousCephOsdNodes: p.cephOsdNodes })),
  });
}
