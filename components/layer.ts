import type * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import type { ResolvedHost } from "./host/host.js";
import type { RoleRule } from "./security/firewall.js";
import type { TimerSpec } from "./management/units.js";
import type { DebVisorNodeArgs } from "./node.js";

/**
 * A layer of a DebVisor node, described once: its settings (schema and cross-field
 * rules), what it contributes to the other layers, and how it is built. `DebVisorNode`
 * walks the catalog (`components/layers.ts`) in order and builds the layers the node's
 * profile names; adding a layer is a folder with a descriptor plus one line in the catalog.
 */
export interface LayerDescriptor<S = any> {
  /** Layer name, as profiles name it; the layer's component is `<node>-<name>`. */
  name: string;
  /** Built on every node, whatever its profile (the base and management layers). @default false */
  always?: boolean;
  /** The layer's settings: where they live on a node and how they are checked. */
  settings?: LayerSettings<S>;
  /**
   * Packages the layer versions itself: held and left out of unattended-upgrades on every
   * node (whether or not it has the layer: a package installed by hand is not upgraded
   * behind DebVisor's back either).
   */
  heldPackages?: readonly string[];
  /** What the layer contributes to the other layers of a node that has it (from the node's settings). */
  contribute?(args: DebVisorNodeArgs): Partial<Contributions>;
  /**
   * Builds the layer's component as a child of the node, after `after` (the previous
   * layer's last step; undefined for the first layer that builds anything). Returns the step later layers wait for, or nothing when the layer
   * has nothing to do on this node.
   */
  build?(node: NodeContext, after: pulumi.Resource | undefined): BuiltLayer | undefined;
  /**
   * Builds what the layer runs across nodes (Ceph's monitors and pools, a Kubernetes
   * control plane), once per cluster, after every node's own layers were registered: from
   * the nodes that have the layer (none: not called). What it returns is the layer's
   * cluster outputs, handed to later layers' `buildCluster` (`cluster.outputs`).
   */
  buildCluster?(cluster: ClusterContext): unknown;
}

/** A node of a cluster as a layer's `buildCluster` sees it. */
export interface ClusterMember {
  /** The node's name in the cluster (`n1`), not its resource name. */
  name: string;
  /** The node component (parent of the node's steps). */
  node: pulumi.Resource;
  host: ResolvedHost;
  /** The node's settings (validated). */
  args: DebVisorNodeArgs;
  layers: readonly string[];
  /** The node's last step up to and including this layer's own (what cluster steps on it wait for). */
  ready: pulumi.Resource | undefined;
}

/** What a layer's `buildCluster` gets. */
export interface ClusterContext {
  /** The cluster's resource name: cluster-wide resources are named `<name>-<layer>-...`. */
  name: string;
  /** The cluster component: cluster-wide resources are its children. */
  parent: pulumi.Resource;
  /** The nodes that have the layer, in config order. */
  members: readonly ClusterMember[];
  /** Every node of the cluster, in config order. */
  all: readonly ClusterMember[];
  /** Earlier layers' cluster outputs, by layer name (e.g. `outputs.storage` for Kubernetes). */
  outputs: Readonly<Record<string, unknown>>;
}

export interface LayerSettings<S> {
  /** The key of `DebVisorNodeArgs` (and of a node in the stack config) that holds them. */
  key: string;
  /** Field-level rules (zod). */
  schema: z.ZodType<S>;
  /** Rules across fields (and other layers' settings), throwing a FieldError (run on settings that passed the schema). */
  rules?(settings: S, node: RuleContext): void;
  /** Rules across nodes (e.g. an address used twice): problem lines, each naming its field. */
  clusterRules?(nodes: readonly { field: string; settings: S; node: RuleContext }[]): string[];
  /** In the stack config, a node's object is merged field by field over `defaults.<key>`. @default true */
  mergeOverDefaults?: boolean;
}

/** The node a rule checks settings for. */
export interface RuleContext {
  /** The node's args (the stack loader's, merged over defaults). */
  args: DebVisorNodeArgs;
  /** The node's layers. */
  layers: readonly string[];
}

export interface BuiltLayer {
  component: pulumi.ComponentResource;
  /** What the next layer waits for (undefined: the layer registered no step). */
  ready?: pulumi.Resource;
}

/** What layers contribute to each other on one node. */
export interface Contributions {
  /** Ports the security layer's firewall opens (to the cluster networks unless a rule says otherwise). */
  firewallRules: RoleRule[];
  /** Timers the management layer installs, as `[role, spec]` (step `<node>-management-<role>`). */
  timers: [string, TimerSpec][];
  /** Packages the base layer installs with its own (tools a layer needs, no step of its own). */
  packages: string[];
}

/** One node as its layers see it while being built. */
export interface NodeContext {
  /** The node's resource name. */
  name: string;
  /** The node component: layers are its children. */
  parent: pulumi.Resource;
  host: ResolvedHost;
  /** The node's settings (validated). */
  args: DebVisorNodeArgs;
  /** The node's layers, in build order. */
  layers: readonly string[];
  has(layer: string): boolean;
  /** Everything the node's layers contribute. */
  contributions: Contributions;
  /** Held packages of every layer of the catalog. */
  heldPackages: string[];
}
