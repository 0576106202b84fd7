import type { Contributions, LayerDescriptor } from "./layer.js";
import type { DebVisorNodeArgs } from "./node.js";
import { baseLayer } from "./base/layer.js";
import { securityLayer } from "./security/layer.js";
import { sshPortLayer } from "./security/ssh-port.js";
import { networkLayer } from "./network/layer.js";
import { storageLayer } from "./storage/layer.js";
import { containersLayer } from "./containers/layer.js";
import { kubernetesLayer } from "./kubernetes/layer.js";
import { virtualizationLayer } from "./virtualization/layer.js";
import { managementLayer } from "./management/layer.js";
import { PROFILES } from "./management/profiles.js";

/**
 * The layers of a DebVisor node, in build order: the one list. Each layer starts once
 * the one before it is done; contributions (firewall ports, timers) are gathered in this
 * order too. Storage, containers and Kubernetes build nothing yet: they contribute ports,
 * held packages and timers.
 */
export const LAYERS: readonly LayerDescriptor[] = [
  sshPortLayer,
  baseLayer,
  securityLayer,
  networkLayer,
  storageLayer,
  containersLayer,
  kubernetesLayer,
  virtualizationLayer,
  managementLayer,
];

/** A catalog of layers and the profiles that select them (a library user may pass their own). */
export interface LayerCatalog {
  layers: readonly LayerDescriptor[];
  /** Profile name -> the layers it names (layers marked `always` come on every node anyway). */
  profiles: Readonly<Record<string, readonly string[]>>;
}

export const DEFAULT_CATALOG: LayerCatalog = { layers: LAYERS, profiles: PROFILES };

/**
 * The packages every layer of a catalog versions itself, held on every node. Listed from
 * the last layer to the first (Kubernetes, containers, storage): the order the
 * unattended-upgrades blacklist has always had, so converged hosts see no change.
 */
export function heldPackagesOf(catalog: LayerCatalog = DEFAULT_CATALOG): string[] {
  return [...new Set([...catalog.layers].reverse().flatMap((l) => l.heldPackages ?? []))];
}

/** Packages DebVisor versions itself: held, and excluded from unattended-upgrades. */
export const DEFAULT_HELD_PACKAGES = heldPackagesOf();

/** The catalog's layers a node of `profile` gets, in build order. */
export function layersOfProfile(profile: string, catalog: LayerCatalog = DEFAULT_CATALOG): LayerDescriptor[] {
  const named = catalog.profiles[profile] ?? [];
  return catalog.layers.filter((l) => l.always || named.includes(l.name));
}

/** What the given layers contribute to each other on a node with these settings, in layer order. */
export function contributionsOf(layers: readonly LayerDescriptor[], args: Partial<DebVisorNodeArgs> = {}): Contributions {
  const out: Contributions = { firewallRules: [], timers: [], packages: [] };
  for (const layer of layers) {
    const c = layer.contribute?.(args as DebVisorNodeArgs);
    out.firewallRules.push(...(c?.firewallRules ?? []));
    out.timers.push(...(c?.timers ?? []));
    out.packages.push(...(c?.packages ?? []));
  }
  return out;
}

/** Layers of the default catalog by name (tests and callers that build one layer's inputs). */
export function layersNamed(...names: string[]): LayerDescriptor[] {
  return LAYERS.filter((l) => names.includes(l.name));
}
