import { z } from "zod";
import { isHttpUrl } from "../config/formats.js";
import { fail } from "../config/problems.js";

/**
 * A registry as containerd and Docker name it: a host name or IPv4 address with an
 * optional port (`docker.io`, `registry.example.com:5000`, `10.0.0.5:5000`), or containerd's
 * `_default` (every registry without a file of its own).
 */
export const CONTAINER_REGISTRY_HOST = /^(_default|(?=[^:]{1,253}(:|$))[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:([1-9][0-9]{0,4}))?)$/;
/** An image reference (`registry.k8s.io/pause:3.10.1`, `mirror:5000/pause@sha256:...`). */
export const IMAGE_REF = /^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]{1,5})?(\/[a-z0-9]+([._-]+[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;
/** A data directory: absolute, no spaces, no `.`/`..` components, no trailing `/`. */
export const DATA_DIR = /^(\/[A-Za-z0-9._+-]+)+$/;
/** Docker's json-file size limit (`10m`). */
export const LOG_SIZE = /^[1-9][0-9]{0,5}[kmg]$/;
/** Directories a data root may not be. */
const SYSTEM_DIRS = ["/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/run", "/sbin", "/sys", "/usr", "/var", "/var/lib", "/tmp", "/home", "/root", "/srv", "/opt", "/mnt", "/media"];

const bool = z.boolean({ error: "must be true or false" });
const registryHost = (what: string) => z.string({ error: what }).refine((h) => CONTAINER_REGISTRY_HOST.test(h) && portOk(h), what);
const portOk = (h: string) => !/:(\d+)$/.test(h) || Number(h.split(":").pop()) <= 65535;
const mirrorUrl = z.string({ error: "must be an http:// or https:// URL" })
  .refine((u) => isHttpUrl(u) && !/[\s"'\\]/.test(u) && !/[?#]/.test(u), "must be an http:// or https:// URL without query or fragment");
const dataDir = z.string({ error: "must be an absolute directory path (no spaces, no . or .. components, no trailing /)" })
  .refine((p) => DATA_DIR.test(p) && !p.split("/").some((c) => c === "." || c === ".."), "must be an absolute directory path (no spaces, no . or .. components, no trailing /)")
  .refine((p) => !SYSTEM_DIRS.includes(p), "is a system directory: use a directory of its own (e.g. /srv/docker)");

/** `ContainersSettings`, field by field (stack config `containers`). */
export const containersSchema = z.strictObject({
  docker: bool.optional(),
  compose: bool.optional(),
  // Keys are checked in containersRules: zod reports a bad record key without naming it.
  registryMirrors: z.record(
    z.string(),
    z.array(mirrorUrl, { error: "must be a list of mirror URLs" }).min(1, "must name at least one mirror URL").max(16, "at most 16 mirrors"),
    { error: "must map registry hosts to lists of mirror URLs" },
  ).optional(),
  insecureRegistries: z.array(registryHost("must be a registry host[:port] (lowercase), reached over plain HTTP or unverified TLS"), { error: "must be a list" })
    .max(64, "at most 64 registries").optional(),
  sandboxImage: z.string({ error: "must be an image reference like registry.k8s.io/pause:3.10.1" })
    .regex(IMAGE_REF, "must be an image reference like registry.k8s.io/pause:3.10.1").optional(),
  containerdRoot: dataDir.optional(),
  dockerDataRoot: dataDir.optional(),
  logMaxSize: z.string({ error: "must be a size like 10m (k, m or g)" }).regex(LOG_SIZE, "must be a size like 10m (k, m or g)").optional(),
  logMaxFiles: z.number({ error: "must be an integer from 1 to 100" }).int("must be an integer from 1 to 100").min(1, "must be an integer from 1 to 100").max(100, "must be an integer from 1 to 100").optional(),
}, { error: "must be an object" });

/** Containers settings of a node (stack config `containers`). Every field is optional. */
export interface ContainersSettings {
  /** Docker Engine (Debian's `docker.io`) on the node's containerd. @default true */
  docker?: boolean;
  /** Compose (`docker compose` on trixie, the Python `docker-compose` v1 on bookworm). Needs `docker`. @default true */
  compose?: boolean;
  /**
   * Registry mirrors, by registry host (`docker.io`, `registry.k8s.io`, `ghcr.io`,
   * `registry.example.com:5000`, or `_default` for every other): URLs tried in order before
   * the registry itself. containerd uses all of them (one `hosts.toml` per registry);
   * Docker mirrors only Docker Hub, so only the `docker.io` list reaches its daemon.json.
   * @default {}
   */
  registryMirrors?: Record<string, string[]>;
  /**
   * Registries (`host[:port]`) reached over TLS without certificate checks, then over plain
   * HTTP: an air-gapped site's own registry. containerd and Docker alike. @default []
   */
  insecureRegistries?: string[];
  /** The CRI sandbox ("pause") image, e.g. from a local registry. @default "registry.k8s.io/pause:3.10.1" */
  sandboxImage?: string;
  /** containerd's root directory (images and snapshots), e.g. on a disk of its own. @default "/var/lib/containerd" */
  containerdRoot?: string;
  /** Docker's data root. Changing it later leaves the old one's images and volumes behind. @default "/var/lib/docker" */
  dockerDataRoot?: string;
  /** Size at which a container's json-file log rotates (k, m or g). @default "10m" */
  logMaxSize?: string;
  /** Rotated log files kept per container. @default 3 */
  logMaxFiles?: number;
}

// The documented interface and the schema describe the same settings.
type Parsed = z.infer<typeof containersSchema>;
const _sameShape: [Parsed extends ContainersSettings ? true : false, ContainersSettings extends Parsed ? true : false] = [true, true];
void _sameShape;

/** Rules across fields. */
export function containersRules(s: ContainersSettings): void {
  const docker = s.docker ?? true;
  if (!docker) {
    if (s.compose === true) fail("compose", "needs Docker Engine (docker: true); Compose drives the Docker daemon", s.compose);
    if (s.dockerDataRoot !== undefined) fail("dockerDataRoot", "is Docker's data root, and docker is false", s.dockerDataRoot);
    if (s.logMaxSize !== undefined) fail("logMaxSize", "limits Docker's container logs, and docker is false", s.logMaxSize);
    if (s.logMaxFiles !== undefined) fail("logMaxFiles", "limits Docker's container logs, and docker is false", s.logMaxFiles);
  }
  if (s.dockerDataRoot !== undefined && s.containerdRoot !== undefined && (s.dockerDataRoot === s.containerdRoot || s.dockerDataRoot.startsWith(`${s.containerdRoot}/`) || s.containerdRoot.startsWith(`${s.dockerDataRoot}/`))) {
    fail("dockerDataRoot", `must be apart from containerdRoot (${s.containerdRoot}): the two daemons would share files`, s.dockerDataRoot);
  }
  // Docker mirrors Docker Hub only, and takes a mirror as scheme://host[:port].
  if (docker) {
    (s.registryMirrors?.["docker.io"] ?? []).forEach((u, i) => {
      if (!["", "/"].includes(new URL(u).pathname)) fail(`registryMirrors["docker.io"][${i}]`, "Docker takes a Docker Hub mirror without a path (scheme://host[:port])", u);
    });
  }
  for (const reg of Object.keys(s.registryMirrors ?? {})) {
    if (!CONTAINER_REGISTRY_HOST.test(reg) || !portOk(reg)) fail(`registryMirrors[${JSON.stringify(reg)}]`, "must be keyed by a registry host like docker.io or registry.example.com:5000 (lowercase), or _default", reg);
  }
  const seen = new Set<string>();
  (s.insecureRegistries ?? []).forEach((h, i) => {
    if (h === "_default") fail(`insecureRegistries[${i}]`, "must name one registry (_default is only for registryMirrors)", h);
    if (seen.has(h)) fail(`insecureRegistries[${i}]`, "is listed twice", h);
    seen.add(h);
  });
}
