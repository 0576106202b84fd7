import { deployFromPulumiConfig, stackOutputs } from "./stacks/index.js";

// The DebVisor program: one typed, validated stack config -> one DebVisorCluster.
// Invalid config throws before any resource is registered.
const cluster = await deployFromPulumiConfig();
const outputs = stackOutputs(cluster);

/** What each node now is: address, SSH port, profile and the facts its base layer reported. */
export const nodes = outputs.nodes;
/** The Ceph cluster, when the stack has one: fsid, monitors, CSI client keys (secret). */
export const ceph = outputs.ceph;
/** The Kubernetes cluster DebVisor set up (`kubernetes.enabled`): its admin kubeconfig (secret). */
export const kubernetes = outputs.kubernetes;
