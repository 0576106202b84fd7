import { stepSpec } from "../host/remote-step.js";
import type { DebianRelease } from "../base/sources.js";
import { CONTAINER_PACKAGES, CRICTL_PACKAGE } from "./versions.js";
import {
  CERTS_D, KERNEL_MODULES, SYSCTLS, encodeRegistryHosts, renderAptPin, renderContainerdConfig, renderCrictlConf, renderDaemonJson,
  renderModulesConf, renderRegistryHosts, renderSysctlConf, versionChecks, type DaemonJsonOptions,
} from "./render.js";

/** `containers/kernel.sh`: overlay and br_netfilter, forwarding and bridge netfilter sysctls. */
export const kernelStep = () => stepSpec("containers/kernel.sh", {
  DV_MODULES: KERNEL_MODULES.join(" "), DV_MODULES_CONF: renderModulesConf(),
  DV_SYSCTLS: Object.entries(SYSCTLS).map(([k, v]) => `${k}=${v}`).join(" "), DV_SYSCTL_CONF: renderSysctlConf(),
});

/** `containers/swap.sh`: swap off, persisted (nodes with the Kubernetes layer). */
export const swapStep = () => stepSpec("containers/swap.sh", {});

export interface ContainerdStepOptions {
  release: DebianRelease;
  sandboxImage: string;
  root?: string;
  registryMirrors?: Readonly<Record<string, readonly string[]>>;
  insecureRegistries?: readonly string[];
}

/** `containers/containerd.sh`: containerd + runc, pinned; config.toml; certs.d hosts. */
export const containerdStep = (o: ContainerdStepOptions) => {
  const pkgs = CONTAINER_PACKAGES[o.release].containerd;
  return stepSpec("containers/containerd.sh", {
    DV_PACKAGES: pkgs.map((p) => p.name).join(" "), DV_VERSIONS: versionChecks(pkgs), DV_APT_PIN: renderAptPin(o.release),
    DV_CONFIG: renderContainerdConfig({ sandboxImage: o.sandboxImage, root: o.root }), DV_CERTS_D: CERTS_D,
    DV_REGISTRY_HOSTS: encodeRegistryHosts(renderRegistryHosts(o.registryMirrors, o.insecureRegistries)),
  });
};

/** `containers/crictl.sh`: /etc/crictl.yaml, crictl where the host's apt has it. */
export const crictlStep = () => stepSpec("containers/crictl.sh", { DV_CRICTL_CONF: renderCrictlConf(), DV_PACKAGE: CRICTL_PACKAGE });

/** `containers/docker.sh`: Docker Engine (+ Compose), pinned; daemon.json. */
export const dockerStep = (o: { release: DebianRelease; compose: boolean } & DaemonJsonOptions) => {
  const r = CONTAINER_PACKAGES[o.release];
  const pkgs = [...r.docker, ...(o.compose ? r.compose : [])];
  return stepSpec("containers/docker.sh", {
    DV_DOCKER_PACKAGES: pkgs.map((p) => p.name).join(" "), DV_DOCKER_VERSIONS: versionChecks(pkgs),
    DV_DAEMON_JSON: renderDaemonJson(o), DV_COMPOSE_COMMAND: o.compose ? r.composeCommand : "",
  });
};
