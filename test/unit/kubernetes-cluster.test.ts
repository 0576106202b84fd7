import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { installMocks } from "../support/mocks.js";
import { fakeFiles, validStackConfig } from "../support/fixtures.js";

const mocks = await installMocks();
const pulumi = await import("@pulumi/pulumi");
const { deployStack, loadStackConfig } = await import("../../stacks/index.js");
type Plan = import("../../components/kubernetes/cluster.js").KubernetesClusterPlan;

const docs = (text: string) => parseAllDocuments(text).map((d) => d.toJS());

describe("the Kubernetes layer across the cluster (buildCluster)", () => {
  it("renders the kubeadm configs and the chart inputs, and registers nothing of its own", async () => {
    mocks.reset();
    const c = validStackConfig(3);
    c.defaults.kubernetes = { podCidr: "10.70.0.0/16", csi: { zfsPools: ["tank"] } };
    const cluster = deployStack(c, { readFile: fakeFiles });
    const regs = await mocks.settle();
    const k = cluster.services.kubernetes as Plan;
    expect(k.plan.controlPlanes.map((n) => n.name)).toEqual(["n1"]);
    expect(k.plan.workers.map((n) => n.name)).toEqual(["n2", "n3"]);
    const [init, clusterConfig] = docs(k.initConfiguration);
    expect(init.kind).toBe("InitConfiguration");
    // kubeadm mints the token on the host; DebVisor names it and keeps it short (the init step deletes it).
    expect(init.bootstrapTokens).toEqual([expect.objectContaining({ description: "DebVisor: kubeadm init's own token, deleted after init", ttl: "15m0s" })]);
    expect(init.bootstrapTokens[0].token).toBeUndefined();
    expect(clusterConfig.networking.podSubnet).toBe("10.70.0.0/16");
    expect(clusterConfig.controlPlaneEndpoint).toBe("10.213.0.12:6443");
    expect(k.charts.map((x) => x.key)).toEqual(["tigeraOperator", "zfsLocalpv"]); // no Ceph in this stack
    // No kubeadm step, no Kubernetes object: kubernetes.enabled is off (the default).
    expect(regs.filter((r) => /kubernetes/i.test(r.type) || /-kubernetes/.test(r.name)).map((r) => r.name)).toEqual([]);
  });

  it("join configurations are secret Outputs", async () => {
    const cluster = deployStack(validStackConfig(2), { readFile: fakeFiles });
    const k = cluster.services.kubernetes as Plan;
    const join = k.joinConfiguration("n2", { token: pulumi.secret("abcdef.0123456789abcdef"), caCertHash: `sha256:${"ab".repeat(32)}` });
    expect(await (join as any).isSecret).toBe(true);
    expect(docs(await (join as any).promise())[0].discovery.bootstrapToken.apiServerEndpoint).toBe("10.213.0.12:6443");
  });

  it("a cluster without the kubernetes layer gets no plan", () => {
    const c = validStackConfig(2);
    c.defaults.profile = "storage";
    expect(deployStack(c, { readFile: fakeFiles }).services.kubernetes).toBeUndefined();
  });

  it("a local chart that is not there is refused before anything is registered, unless charts are off", () => {
    const c = validStackConfig(1);
    c.defaults.kubernetes = { chartSources: { tigeraOperator: { repository: "/nonexistent/tigera-operator.tgz" } } };
    expect(() => loadStackConfig(c, { readFile: fakeFiles })).toThrow(/nodes\[0\]\.kubernetes\.chartSources\.tigeraOperator\.repository: no chart at \/nonexistent\/tigera-operator\.tgz/);
    c.defaults.kubernetes.charts = false;
    expect(() => loadStackConfig(c, { readFile: fakeFiles })).not.toThrow();
  });
});
