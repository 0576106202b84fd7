import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { parseAllDocuments } from "yaml";
import { installMocks } from "../support/mocks.js";

await installMocks();
const pulumi = await import("@pulumi/pulumi");
const kubeadm = await import("../../components/kubernetes/kubeadm.js");

const TOKEN = "q7w2ke.9x0c1v2b3n4m5l6k";
const CERT_KEY = "0123456789abcdef".repeat(4);
const CA_HASH = `sha256:${"fe".repeat(32)}`;

const vipSettings = { controlPlaneEndpoint: { address: "10.213.0.10" } };
/** Three control planes behind a VIP, one worker, an air-gapped image registry. */
const ha = kubeadm.kubeadmPlan([
  { name: "n1", address: "10.213.0.11", settings: { ...vipSettings, role: "controlPlane", imageRepository: "registry.example.org:5000/k8s", dnsImageTag: "v1.14.3" } },
  { name: "n2", address: "10.213.0.12", settings: { role: "controlPlane" } },
  { name: "n3", address: "10.213.0.13", settings: { role: "controlPlane" } },
  { name: "n4", address: "10.213.0.14", settings: {} },
]);
/** The defaults: the first node is the one control plane. */
const single = kubeadm.kubeadmPlan([
  { name: "n1", address: "10.213.0.11", settings: {} },
  { name: "n2", address: "10.213.0.12", settings: {} },
]);
const docs = (text: string) => parseAllDocuments(text).map((d) => d.toJS());

describe("kubeadm plan", () => {
  it("the first node is the control plane by default, the endpoint its address", () => {
    expect(single.controlPlanes.map((n) => n.name)).toEqual(["n1"]);
    expect(single.workers.map((n) => n.name)).toEqual(["n2"]);
    expect(single.endpoint).toBe("10.213.0.11:6443");
  });
  it("with a VIP the endpoint is the VIP", () => {
    expect(ha.controlPlanes.map((n) => n.name)).toEqual(["n1", "n2", "n3"]);
    expect(ha.endpoint).toBe("10.213.0.10:6443");
  });
});

describe("kubeadm v1beta4 init configuration", () => {
  it("renders Init, Cluster and Kubelet configuration (field names of kubeadm's v1beta4 types)", () => {
    const [init, cluster, kubelet] = docs(kubeadm.renderInitConfig(ha, { token: TOKEN, certificateKey: CERT_KEY }));
    expect(init).toEqual({
      apiVersion: "kubeadm.k8s.io/v1beta4",
      kind: "InitConfiguration",
      bootstrapTokens: [{ token: TOKEN, description: "DebVisor join token", ttl: "1h0m0s", usages: ["signing", "authentication"], groups: ["system:bootstrappers:kubeadm:default-node-token"] }],
      certificateKey: CERT_KEY,
      localAPIEndpoint: { advertiseAddress: "10.213.0.11", bindPort: 6443 },
      nodeRegistration: { name: "n1", criSocket: "unix:///run/containerd/containerd.sock", kubeletExtraArgs: [{ name: "node-ip", value: "10.213.0.11" }] },
    });
    expect(cluster).toEqual({
      apiVersion: "kubeadm.k8s.io/v1beta4",
      kind: "ClusterConfiguration",
      clusterName: "debvisor",
      kubernetesVersion: "v1.34.4",
      controlPlaneEndpoint: "10.213.0.10:6443",
      networking: { podSubnet: "10.244.0.0/16", serviceSubnet: "10.96.0.0/12", dnsDomain: "cluster.local" },
      etcd: { local: { dataDir: "/var/lib/etcd" } },
      apiServer: { certSANs: ["10.213.0.10", "10.213.0.11", "10.213.0.12", "10.213.0.13"] },
      imageRepository: "registry.example.org:5000/k8s",
      dns: { imageTag: "v1.14.3" },
    });
    expect(kubelet).toEqual({ apiVersion: "kubelet.config.k8s.io/v1beta1", kind: "KubeletConfiguration", cgroupDriver: "systemd" });
  });
  it("leaves tokens to kubeadm when none is given, and the image repository and CoreDNS tag to kubeadm's defaults", () => {
    const [init, cluster] = docs(kubeadm.renderInitConfig(single));
    expect(init.bootstrapTokens).toEqual([{
      description: "DebVisor: kubeadm init's own token, deleted after init", ttl: "15m0s",
      usages: ["signing", "authentication"], groups: ["system:bootstrappers:kubeadm:default-node-token"],
    }]);
    expect(init.certificateKey).toBeUndefined();
    expect(cluster.imageRepository).toBeUndefined();
    expect(cluster.dns).toBeUndefined();
    expect(cluster.apiServer.certSANs).toEqual(["10.213.0.11"]);
  });
  it("takes the control-plane taint off only when control planes run workloads", () => {
    expect(docs(kubeadm.renderInitConfig(single))[0].nodeRegistration.taints).toBeUndefined();
    const hc = kubeadm.kubeadmPlan([{ name: "n1", address: "10.213.0.11", settings: { controlPlaneWorkloads: true } }]);
    expect(docs(kubeadm.renderInitConfig(hc))[0].nodeRegistration.taints).toEqual([]);
  });
  it("refuses a malformed token or key without printing it", () => {
    expect(() => kubeadm.renderInitConfig(single, { token: "SECRET-not-a-token" })).toThrow(/kubeadm token: not a bootstrap token/);
    expect(() => kubeadm.renderInitConfig(single, { token: "SECRET-not-a-token" })).not.toThrow(/SECRET/);
    expect(() => kubeadm.renderInitConfig(single, { certificateKey: "SECRET" })).toThrow(/kubeadm certificateKey: not a certificate key \(64 hex digits\) \(the value is secret and not shown\)$/);
  });
});

describe("kubeadm v1beta4 join configuration", () => {
  it("a worker pins the CA by hash and never skips its verification", () => {
    const text = kubeadm.renderJoinConfig(ha, "n4", { token: TOKEN, caCertHash: CA_HASH });
    expect(docs(text)).toEqual([{
      apiVersion: "kubeadm.k8s.io/v1beta4",
      kind: "JoinConfiguration",
      discovery: { bootstrapToken: { apiServerEndpoint: "10.213.0.10:6443", token: TOKEN, caCertHashes: [CA_HASH] }, tlsBootstrapToken: TOKEN },
      nodeRegistration: { name: "n4", criSocket: "unix:///run/containerd/containerd.sock", kubeletExtraArgs: [{ name: "node-ip", value: "10.213.0.14" }] },
    }]);
    expect(text).not.toContain("unsafeSkipCAVerification");
  });
  it("a control plane joins with its own API endpoint and the certificate key", () => {
    const [join] = docs(kubeadm.renderJoinConfig(ha, "n2", { token: TOKEN, caCertHash: CA_HASH, certificateKey: CERT_KEY }));
    expect(join.controlPlane).toEqual({ localAPIEndpoint: { advertiseAddress: "10.213.0.12", bindPort: 6443 }, certificateKey: CERT_KEY });
    expect(join.discovery.bootstrapToken.caCertHashes).toEqual([CA_HASH]);
  });
  it("refuses what cannot join safely", () => {
    expect(() => kubeadm.renderJoinConfig(ha, "n4", { token: TOKEN, caCertHash: "" })).toThrow(/caCertHash: must be sha256:<64 hex digits> \(joins pin the cluster CA\)/);
    expect(() => kubeadm.renderJoinConfig(ha, "n2", { token: TOKEN, caCertHash: CA_HASH })).toThrow(/n2 is a control plane: it needs the certificate key/);
    expect(() => kubeadm.renderJoinConfig(ha, "n1", { token: TOKEN, caCertHash: CA_HASH })).toThrow(/n1 is the first control plane: it runs kubeadm init/);
    expect(() => kubeadm.renderJoinConfig(ha, "n9", { token: TOKEN, caCertHash: CA_HASH })).toThrow(/n9 is not a node of this cluster/);
    expect(() => kubeadm.renderJoinConfig(ha, "n4", { token: "SECRET", caCertHash: CA_HASH })).not.toThrow(/SECRET/);
  });
  it("with secrets from other resources, the rendered configs are secret Outputs", async () => {
    const init = kubeadm.kubeadmInitConfig(ha, { token: pulumi.secret(TOKEN), certificateKey: pulumi.secret(CERT_KEY) });
    expect(await (init as any).isSecret).toBe(true);
    expect(await (init as any).promise()).toContain(`token: ${TOKEN}`);
    const join = kubeadm.kubeadmJoinConfig(ha, "n4", { token: pulumi.secret(TOKEN), caCertHash: CA_HASH });
    expect(await (join as any).isSecret).toBe(true);
    // Even a token passed in plain ends up in a secret.
    expect(await (kubeadm.kubeadmJoinConfig(ha, "n4", { token: TOKEN, caCertHash: CA_HASH }) as any).isSecret).toBe(true);
  });
});

describe("the kubeadm build (scripts/toolchain/kubernetes/kubeadm.sh)", () => {
  it("builds the version components/kubernetes/versions.ts pins, into the cache outside the repo", async () => {
    const { KUBERNETES_VERSION } = await import("../../components/kubernetes/versions.js");
    const r = spawnSync("bash", ["scripts/toolchain/kubernetes/kubeadm.sh", "--path"], { encoding: "utf8", env: { ...process.env, DEBVISOR_CACHE: "/tmp/dv-cache-probe" } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`/tmp/dv-cache-probe/kubernetes/${KUBERNETES_VERSION}/bin/kubeadm`);
  });
});
