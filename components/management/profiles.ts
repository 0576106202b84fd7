/**
 * Profiles select which layers of the catalog (`components/layers.ts`) a node gets. This
 * is the one place that defines them. Layers not built yet are named already, so that
 * config written now keeps its meaning as they arrive.
 */
/** A layer's name, as the catalog (`components/layers.ts`) defines it. */
export type Layer = string;

export const PROFILES = {
  hyperconverged: ["base", "security", "network", "virtualization", "storage", "containers", "kubernetes"],
  compute: ["base", "security", "network", "virtualization", "containers", "kubernetes"],
  /** Containers and Kubernetes without virtual machines or storage services (a worker, or a lean control plane). */
  containers: ["base", "security", "network", "containers", "kubernetes"],
  storage: ["base", "security", "network", "storage"],
  minimal: ["base", "security"],
} as const satisfies Record<string, readonly string[]>;

export type Profile = keyof typeof PROFILES;
export const PROFILE_NAMES = Object.keys(PROFILES) as Profile[];
export const DEFAULT_PROFILE: Profile = "hyperconverged";

export function layersOf(profile: Profile): readonly Layer[] {
  return PROFILES[profile];
}
