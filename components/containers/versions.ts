import type { DebianRelease } from "../base/sources.js";

/**
 * The container packages of each Debian release: the one place their names and versions
 * are pinned. Everything comes from Debian's own archive (Docker's and Kubernetes' upstream
 * repositories are not assumed reachable). `version` is the upstream version the release
 * ships; apt is pinned to it (`/etc/apt/preferences.d/debvisor-containers`, any Debian
 * revision of that version, so security updates of the same version still install) and
 * the step refuses a host where another version is installed. The packages are also held
 * (the layer's `heldPackages`).
 */
export interface ContainerPackage {
  /** Debian package name. */
  name: string;
  /** Upstream version, as in the Debian version before `~`, `+` or `-`. */
  version: string;
}

export interface ReleasePackages {
  /** containerd and its OCI runtime. */
  containerd: ContainerPackage[];
  /** Docker Engine (dockerd on the system containerd) and its CLI. */
  docker: ContainerPackage[];
  /** Compose. */
  compose: ContainerPackage[];
  /** How Compose is run on this release. */
  composeCommand: string;
}

export const CONTAINER_PACKAGES: Readonly<Record<DebianRelease, ReleasePackages>> = {
  // bookworm: docker.io carries the CLI; Compose is the Python v1 (`docker-compose`),
  // the only one in bookworm and bookworm-backports.
  bookworm: {
    containerd: [{ name: "containerd", version: "1.6.20" }, { name: "runc", version: "1.1.5" }],
    docker: [{ name: "docker.io", version: "20.10.24" }],
    compose: [{ name: "docker-compose", version: "1.29.2" }],
    composeCommand: "docker-compose",
  },
  // trixie: the CLI is its own package (only recommended by docker.io, so named here);
  // docker-buildx gives `docker build` BuildKit; docker-compose is Compose v2, a CLI
  // plugin (`docker compose`, also linked as /usr/bin/docker-compose).
  trixie: {
    containerd: [{ name: "containerd", version: "1.7.24" }, { name: "runc", version: "1.1.15" }],
    docker: [{ name: "docker.io", version: "26.1.5" }, { name: "docker-cli", version: "26.1.5" }, { name: "docker-buildx", version: "0.13.1" }],
    compose: [{ name: "docker-compose", version: "2.26.1" }],
    composeCommand: "docker compose",
  },
};

/**
 * crictl comes from the `cri-tools` package, which Debian has in neither release: it is
 * installed when the host's apt sources have it (Kubernetes' own apt repository, which
 * the Kubernetes layer adds), at whatever version that repository pins.
 */
export const CRICTL_PACKAGE = "cri-tools";

/**
 * The sandbox ("pause") image containerd's CRI plugin uses: the one kubeadm 1.34-1.36
 * expects (containerd 1.6/1.7 default to older ones, and kubelet warns about the mismatch).
 */
export const DEFAULT_SANDBOX_IMAGE = "registry.k8s.io/pause:3.10.1";

/** Packages the layer versions itself, whatever the release: held on every node. */
export const CONTAINER_HELD_PACKAGES: readonly string[] = [
  // Docker's upstream containerd, held since the first releases: a host with it keeps it.
  "containerd", "containerd.io",
  ...new Set(Object.values(CONTAINER_PACKAGES).flatMap((r) => [...r.containerd, ...r.docker, ...r.compose].map((p) => p.name)).filter((n) => n !== "containerd")),
  CRICTL_PACKAGE,
];
