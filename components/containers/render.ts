import { stringify as toToml } from "smol-toml";
import type { DebianRelease } from "../base/sources.js";
import { CONTAINER_PACKAGES, CRICTL_PACKAGE, type ContainerPackage } from "./versions.js";

/** containerd's socket: crictl, kubelet and dockerd all talk to this one containerd. */
export const CONTAINERD_SOCKET = "/run/containerd/containerd.sock";
/** Where containerd reads one `hosts.toml` per registry (`config_path`). */
export const CERTS_D = "/etc/containerd/certs.d";
/** Where CNI plugins are looked for (where CNI installers such as Calico's put them). */
export const CNI_BIN_DIR = "/opt/cni/bin";
export const CNI_CONF_DIR = "/etc/cni/net.d";
const MANAGED = "# Managed by DebVisor (containers layer): changes are overwritten.";

/** Kernel modules container networking and overlay storage need, loaded at every boot. */
export const KERNEL_MODULES = ["overlay", "br_netfilter"];
/** Forwarding on (before dockerd starts: else Docker sets FORWARD to DROP), bridged traffic through netfilter. */
export const SYSCTLS: Readonly<Record<string, string>> = {
  "net.ipv4.ip_forward": "1",
  "net.bridge.bridge-nf-call-iptables": "1",
  "net.bridge.bridge-nf-call-ip6tables": "1",
};

export const renderModulesConf = () => `${MANAGED}\n${KERNEL_MODULES.join("\n")}`;
export const renderSysctlConf = () => `${MANAGED}\n${Object.entries(SYSCTLS).map(([k, v]) => `${k} = ${v}`).join("\n")}`;

/**
 * apt pinned to the release's versions (any Debian revision of them): a newer upstream
 * version from another source (backports, Docker's repository) is never picked.
 */
export function renderAptPin(release: DebianRelease): string {
  const r = CONTAINER_PACKAGES[release];
  const stanzas = [...r.containerd, ...r.docker, ...r.compose].map((p) => `Package: ${p.name}\nPin: version ${p.version}*\nPin-Priority: 1001`);
  return `${MANAGED}\n# Versions pinned by DebVisor for Debian ${release}.\n\n${stanzas.join("\n\n")}`;
}

/** `name=version` words the step checks installed packages against. */
export const versionChecks = (pkgs: readonly ContainerPackage[]) => pkgs.map((p) => `${p.name}=${p.version}`).join(" ");

/** containerd 1.6/1.7 (config version 2): CRI with the systemd cgroup driver, registries from certs.d. */
export function renderContainerdConfig(o: { sandboxImage: string; root?: string }): string {
  const config = {
    version: 2,
    ...(o.root ? { root: o.root } : {}),
    plugins: {
      "io.containerd.grpc.v1.cri": {
        sandbox_image: o.sandboxImage,
        cni: { bin_dir: CNI_BIN_DIR, conf_dir: CNI_CONF_DIR },
        containerd: { runtimes: { runc: { runtime_type: "io.containerd.runc.v2", options: { SystemdCgroup: true } } } },
        registry: { config_path: CERTS_D },
      },
      "io.containerd.internal.v1.opt": { path: `${o.root ?? "/var/lib/containerd"}/opt` },
    },
  };
  return `${MANAGED}\n${toToml(config)}`;
}

/** The upstream endpoint of a registry (Docker Hub's is not its name). */
function upstreamOf(registry: string, insecure: boolean): string {
  if (registry === "docker.io") return "https://registry-1.docker.io";
  return `${insecure ? "http" : "https"}://${registry}`;
}

/**
 * One `hosts.toml` per registry that has mirrors or is insecure, by registry (directory
 * name under certs.d). Mirrors come first (pull and resolve); an insecure registry is
 * tried over TLS without verification, then over plain HTTP (as Docker does).
 */
export function renderRegistryHosts(mirrors: Readonly<Record<string, readonly string[]>> = {}, insecure: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  const registries = [...new Set([...Object.keys(mirrors), ...insecure])].sort();
  for (const reg of registries) {
    const isInsecure = insecure.includes(reg);
    const host: Record<string, Record<string, unknown>> = {};
    for (const url of mirrors[reg] ?? []) {
      host[url.replace(/\/$/, "")] = { capabilities: ["pull", "resolve"] };
    }
    if (isInsecure) {
      host[`https://${reg}`] = { capabilities: ["pull", "resolve", "push"], skip_verify: true };
      host[`http://${reg}`] = { capabilities: ["pull", "resolve", "push"] };
    }
    const doc = { ...(reg === "_default" ? {} : { server: upstreamOf(reg, isInsecure) }), host };
    out[reg] = `${MANAGED}\n${toToml(doc)}`;
  }
  return out;
}

/**
 * The certs.d files as one parameter: a line `<registry> <base64 of hosts.toml>` per
 * registry (registry names are validated: no spaces; base64 has none either).
 */
export const encodeRegistryHosts = (files: Record<string, string>) =>
  Object.entries(files).map(([reg, text]) => `${reg} ${Buffer.from(`${text}\n`).toString("base64")}`).join("\n");

/** `/etc/crictl.yaml`: crictl talks to containerd. */
export const renderCrictlConf = () => `${MANAGED}\nruntime-endpoint: unix://${CONTAINERD_SOCKET}\nimage-endpoint: unix://${CONTAINERD_SOCKET}\ntimeout: 10\ndebug: false`;

export interface DaemonJsonOptions {
  registryMirrors?: readonly string[];
  insecureRegistries?: readonly string[];
  dataRoot?: string;
  logMaxSize: string;
  logMaxFiles: number;
}

/**
 * `/etc/docker/daemon.json` (JSON.stringify: no hand-made JSON). The systemd cgroup
 * driver (as containerd's CRI uses), json-file logs with limits, live-restore (a restart
 * of dockerd, e.g. for a changed setting, leaves containers running).
 */
export function renderDaemonJson(o: DaemonJsonOptions): string {
  const conf: Record<string, unknown> = {
    "exec-opts": ["native.cgroupdriver=systemd"],
    "log-driver": "json-file",
    "log-opts": { "max-size": o.logMaxSize, "max-file": String(o.logMaxFiles) },
    "live-restore": true,
    ...(o.registryMirrors?.length ? { "registry-mirrors": o.registryMirrors.map((u) => u.replace(/\/$/, "")) } : {}),
    ...(o.insecureRegistries?.length ? { "insecure-registries": [...o.insecureRegistries] } : {}),
    ...(o.dataRoot ? { "data-root": o.dataRoot } : {}),
  };
  return JSON.stringify(conf, null, 2);
}

export { CRICTL_PACKAGE };
