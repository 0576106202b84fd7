import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "./config/problems.js";
import { NODE_NAME } from "./config/formats.js";
import { DebVisorNode, nodeArgsProblems, type DebVisorNodeArgs } from "./node.js";
import { alreadyValidated, trusted } from "./config/trusted.js";
import { DEFAULT_CATALOG, layersOfProfile } from "./layers.js";
import { DEFAULT_PROFILE } from "./management/profiles.js";
import type { ClusterMember } from "./layer.js";

export interface DebVisorClusterNodeArgs extends DebVisorNodeArgs {
  /** Node name: lower-case letters, digits and '-'; also names the node's resources. */
  name: string;
}

export interface DebVisorClusterArgs {
  /** The nodes, at least one. */
  nodes: DebVisorClusterNodeArgs[];
}

/**
 * Rules across nodes (the stack loader runs the same): unique names, unique SSH
 * endpoints (address and port: two nodes behind one NAT address on different ports are fine).
 */
export function clusterProblems(nodes: readonly { name: string; address: string; port?: number }[], field: (i: number, key: "name" | "address") => string): string[] {
  const problems: string[] = [];
  const names = new Map<string, number>();
  const endpoints = new Map<string, number>();
  nodes.forEach((n, i) => {
    if (names.has(n.name)) problems.push(`${field(i, "name")}: duplicate of nodes[${names.get(n.name)}].name, got ${JSON.stringify(n.name)}`);
    else names.set(n.name, i);
    const key = `${n.address}:${n.port ?? 22}`;
    if (endpoints.has(key)) problems.push(`${field(i, "address")}: duplicate of nodes[${endpoints.get(key)}].address${n.port !== undefined && n.port !== 22 ? ` (same port ${n.port})` : ""}, got ${JSON.stringify(n.address)}`);
    else endpoints.set(key, i);
  });
  return problems;
}

/** The catalog layers' rules across nodes (e.g. one static address on two nodes). */
export function layerClusterProblems(nodes: readonly { field: string; args: DebVisorNodeArgs }[]): string[] {
  const catalog = nodes[0]?.args.catalog ?? DEFAULT_CATALOG;
  return catalog.layers.flatMap((layer) => {
    if (!layer.settings?.clusterRules) return [];
    const key = layer.settings.key;
    const entries = nodes.map((n) => ({
      field: `${n.field}.${key}`,
      settings: (n.args as unknown as Record<string, unknown>)[key] ?? {},
      node: { args: n.args, layers: layersOfProfile(n.args.profile ?? DEFAULT_PROFILE, catalog).map((l) => l.name) },
    }));
    return layer.settings.clusterRules(entries);
  });
}

/** Every problem of a cluster's args. */
export function clusterArgsProblems(args: DebVisorClusterArgs, field = "cluster"): string[] {
  if (!Array.isArray(args.nodes) || args.nodes.length === 0) return [`${field}.nodes: at least one node is required, got ${JSON.stringify(args.nodes)}`];
  const problems: string[] = [];
  args.nodes.forEach((n, i) => {
    const f = `${field}.nodes[${i}]`;
    if (typeof n.name !== "string" || !NODE_NAME.test(n.name)) problems.push(`${f}.name: must be lower-case letters, digits and '-', got ${JSON.stringify(n.name)}`);
    const { name: _n, ...nodeArgs } = n;
    problems.push(...nodeArgsProblems(nodeArgs, f));
  });
  problems.push(...clusterProblems(args.nodes.map((n) => ({ name: n.name, address: n.host?.address, port: n.host?.port })), (i, k) => `${field}.nodes[${i}]${k === "name" ? ".name" : ".host.address"}`));
  if (problems.length === 0) problems.push(...layerClusterProblems(args.nodes.map((n, i) => ({ field: `${field}.nodes[${i}]`, args: n }))));
  return problems;
}

/** Throws a ConfigError listing every problem of a cluster's args. */
export function validateDebVisorClusterArgs(args: DebVisorClusterArgs, field = "cluster"): void {
  const problems = clusterArgsProblems(args, field);
  if (problems.length > 0) throw new ConfigError(problems);
}

/** Many DebVisor nodes, one child each, named `${name}-${node.name}`. */
export class DebVisorCluster extends pulumi.ComponentResource {
  readonly nodes: Record<string, DebVisorNode>;
  /** What the layers run across nodes, by layer name (e.g. `services.storage`: Ceph's fsid, monitors, client keys). */
  readonly services: Readonly<Record<string, unknown>>;

  constructor(name: string, args: DebVisorClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    // Validate before super(): bad input must register nothing.
    if (!alreadyValidated(args)) validateDebVisorClusterArgs(args); // the stack loader's args are validated already
    super("debvisor:index:DebVisorCluster", name, {}, opts);
    this.nodes = {};
    // Pulumi's SDK captures a stack trace for every promise it creates (leak
    // diagnostics only; resource source positions are captured separately). With
    // thousands of outputs that capture dominated construction time and memory, so it
    // is kept short while the nodes are built (measured: see README, Benchmarks).
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      for (const { name: nodeName, ...nodeArgs } of args.nodes) {
        this.nodes[nodeName] = new DebVisorNode(`${name}-${nodeName}`, trusted(nodeArgs), { parent: this });
      }
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.services = buildClusterLayers(name, this, this.nodes);
    this.registerOutputs({});
  }
}

/** Each catalog layer's cross-node part (`buildCluster`), in catalog order, from the nodes that have the layer. */
function buildClusterLayers(name: string, parent: pulumi.Resource, nodes: Record<string, DebVisorNode>): Record<string, unknown> {
  const first = Object.values(nodes)[0];
  const catalog = first?.args.catalog ?? DEFAULT_CATALOG;
  const outputs: Record<string, unknown> = {};
  const all = (layer: string): ClusterMember[] =>
    Object.entries(nodes).map(([nodeName, n]) => ({ name: nodeName, node: n, host: n.host, args: n.args, layers: n.layers, ready: n.readyAfter[layer] }));
  for (const layer of catalog.layers) {
    if (!layer.buildCluster) continue;
    const everyone = all(layer.name);
    const members = everyone.filter((m) => m.layers.includes(layer.name));
    if (members.length === 0) continue;
    const out = layer.buildCluster({ name, parent, members, all: everyone, outputs });
    if (out !== undefined) outputs[layer.name] = out;
  }
  return outputs;
}
