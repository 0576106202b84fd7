/**
 * Profiles select which layers a node gets. This is the one place that defines them.
 * Only the base layer is built today; the others are recorded here so that config
 * written now keeps its meaning as the layers arrive.
 */
export const LAYERS = ["base", "security", "network", "virtualization", "storage", "containers", "kubernetes"] as const;
export type Layer = (typeof LAYERS)[number];

export const PROFILES = {
  hyperconverged: ["base", "security", "network", "virtualization", "storage", "containers", "kubernetes"],
  compute: ["base", "security", "network", "virtualization", "containers", "kubernetes"],
  storage: ["base", "security", "network", "storage"],
  minimal: ["base", "security"],
} as const satisfies Record<string, readonly Layer[]>;

export type Profile = keyof typeof PROFILES;
export const PROFILE_NAMES = Object.keys(PROFILES) as Profile[];
export const DEFAULT_PROFILE: Profile = "hyperconverged";

export function layersOf(profile: Profile): readonly Layer[] {
  return PROFILES[profile];
}
