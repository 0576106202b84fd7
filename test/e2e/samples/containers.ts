import type { DebianRelease } from "../../../components/base/index.js";
import { containerdStep, crictlStep, dockerStep, kernelStep, swapStep } from "../../../components/containers/index.js";

// Script-tier samples of components/containers/*.sh: parameters as the component renders
// them, in the order the step runs them. The mirrors and the insecure registry are
// names that never resolve: nothing is pulled, the files are what is checked. On a lab
// container host the kernel part finds the modules and sysctls it cannot change and
// reports them (the VM tier, test/vm/containers.test.ts, has a kernel of its own).
export const order: string[] = [
  "containers/kernel.sh", "containers/swap.sh", "containers/containerd.sh", "containers/crictl.sh", "containers/docker.sh",
];
const mirrors = { "docker.io": ["https://mirror.lab.invalid:5000"], "registry.k8s.io": ["https://mirror.lab.invalid:5000/k8s"] };
const insecure = ["registry.lab.invalid:5000"];
export const sample = (release: DebianRelease): Record<string, Record<string, string>> => ({
  "containers/kernel.sh": kernelStep().params,
  "containers/swap.sh": swapStep().params,
  "containers/containerd.sh": containerdStep({ release, sandboxImage: "registry.k8s.io/pause:3.10.1", registryMirrors: mirrors, insecureRegistries: insecure }).params,
  "containers/crictl.sh": crictlStep().params,
  "containers/docker.sh": dockerStep({ release, compose: true, registryMirrors: mirrors["docker.io"], insecureRegistries: insecure, logMaxSize: "10m", logMaxFiles: 3 }).params,
});
