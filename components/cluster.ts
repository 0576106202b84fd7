import * as pulumi from "@pulumi/pulumi";
import { DebVisorNode, validateDebVisorNodeArgs, type DebVisorNodeArgs } from "./node.js";

export interface DebVisorClusterNodeArgs extends DebVisorNodeArgs {
  /** Node name: lower-case letters, digits and '-'; also names the node's resources. */
  name: string;
}

export interface DebVisorClusterArgs {
  /** The nodes, at least one. */
  nodes: DebVisorClusterNodeArgs[];
}

const NODE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function validateDebVisorClusterArgs(args: DebVisorClusterArgs, field = "cluster"): void {
  if (!Array.isArray(args.nodes) || args.nodes.length === 0) throw new Error(`${field}.nodes: at least one node is required, got ${JSON.stringify(args.nodes)}`);
  const names = new Map<string, number>();
  const addresses = new Map<string, number>();
  args.nodes.forEach((n, i) => {
    const f = `${field}.nodes[${i}]`;
    if (!NODE_NAME.test(n.name)) throw new Error(`${f}.name: must be lower-case letters, digits and '-', got ${JSON.stringify(n.name)}`);
    if (names.has(n.name)) throw new Error(`${f}.name: duplicate of nodes[${names.get(n.name)}].name, got ${JSON.stringify(n.name)}`);
    names.set(n.name, i);
    validateDebVisorNodeArgs(n, f);
    const key = `${n.host.address}:${n.host.port ?? 22}`;
    if (addresses.has(key)) throw new Error(`${f}.host.address: duplicate of nodes[${addresses.get(key)}].host.address, got ${JSON.stringify(n.host.address)}`);
    addresses.set(key, i);
  });
}

/** Many DebVisor nodes, one child each, named `${name}-${node.name}`. */
export class DebVisorCluster extends pulumi.ComponentResource {
  readonly nodes: Record<string, DebVisorNode>;

  constructor(name: string, args: DebVisorClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    // Validate before super(): bad input must register nothing.
    validateDebVisorClusterArgs(args);
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
        this.nodes[nodeName] = new DebVisorNode(`${name}-${nodeName}`, nodeArgs, { parent: this });
      }
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.registerOutputs({});
  }
}
