import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fakeFiles, validStackConfig } from "../support/fixtures.js";
import { loadStackConfig } from "../../stacks/index.js";
import { KUBERNETES_VERSION, buildKubernetesCluster, kubeadmPlan, renderInitConfig, renderJoinConfig, type KubeadmPlan } from "../../components/kubernetes/index.js";
import { layersOfProfile } from "../../components/layers.js";

// The real kubeadm (built by `npm run setup` from the Go module proxy:
// scripts/toolchain/kubernetes/kubeadm.sh) checks what the Kubernetes layer renders:
// `kubeadm config validate` decodes strictly (an unknown or misspelt field fails) and runs
// kubeadm's own validation. No lab host is needed.
const ROOT = resolve(import.meta.dirname, "../..");
const KUBEADM = spawnSync("bash", [join(ROOT, "scripts/toolchain/kubernetes/kubeadm.sh"), "--path"], { encoding: "utf8" }).stdout.trim();

const TOKEN = "h3k9pz.4m2n8b6v0c1x7z5l";
const CERT_KEY = "9c".repeat(32);
const CA_HASH = `sha256:${"3f".repeat(32)}`;

/** The Kubernetes plan of a stack config, through the stack loader (its rules included). */
function planOf(raw: any): KubeadmPlan {
  const args = loadStackConfig(raw, { readFile: fakeFiles });
  const members = args.nodes.filter((n) => layersOfProfile(n.profile ?? "hyperconverged").some((l) => l.name === "kubernetes"));
  return kubeadmPlan(members.map((n) => ({ name: n.name, address: n.host.address, settings: n.kubernetes ?? {} })));
}

const dir = mkdtempSync(join(tmpdir(), "dv-kubeadm-"));
function validate(name: string, text: string) {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, text, { mode: 0o600 });
  const r = spawnSync(KUBEADM, ["config", "validate", "--config", file], { encoding: "utf8" });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}
/** Every config of a plan: init on the first control plane, a join for each other node. */
function renderAll(plan: KubeadmPlan): [string, string][] {
  return [
    ["init", renderInitConfig(plan, { token: TOKEN, certificateKey: CERT_KEY })],
    ...[...plan.controlPlanes.slice(1), ...plan.workers].map((n): [string, string] => [
      `join-${n.name}`, renderJoinConfig(plan, n.name, { token: TOKEN, caCertHash: CA_HASH, certificateKey: n.role === "controlPlane" ? CERT_KEY : undefined }),
    ]),
  ];
}

const STACKS: [string, () => any][] = [
  ["one control plane (the defaults), two workers", () => validStackConfig(3)],
  ["three control planes behind a VIP, a worker, an image mirror and CoreDNS from it", () => {
    const c = validStackConfig(4);
    c.defaults.security = { clusterNetworks: ["10.213.0.0/24"] };
    c.defaults.kubernetes = { controlPlaneEndpoint: { address: "10.213.0.10" }, imageRepository: "registry.example.org:5000/k8s", dnsImageTag: "v1.14.3" };
    for (const i of [0, 1, 2]) c.nodes[i].kubernetes = { role: "controlPlane" };
    return c;
  }],
  ["one control plane behind a kube-vip VIP on another port, workloads on it, own networks and names", () => {
    const c = validStackConfig(2);
    c.defaults.security = { clusterNetworks: ["10.213.0.0/24"] };
    c.defaults.kubernetes = {
      controlPlaneEndpoint: { address: "10.213.0.200", port: 8443, mode: "kube-vip" }, controlPlaneWorkloads: true,
      clusterName: "edge", podCidr: "172.20.0.0/16", serviceCidr: "172.21.0.0/20", dnsDomain: "edge.internal",
    };
    return c;
  }],
];

describe("kubeadm config validate (the real kubeadm)", () => {
  it("kubeadm is built, at the pinned version", () => {
    expect(existsSync(KUBEADM), `no kubeadm at ${KUBEADM}: run npm run setup (scripts/toolchain/kubernetes/kubeadm.sh builds it)`).toBe(true);
    const v = spawnSync(KUBEADM, ["version", "-o", "short"], { encoding: "utf8" });
    expect(v.stdout.trim()).toBe(KUBERNETES_VERSION);
  });

  it.each(STACKS)("accepts every config of a stack: %s", (name, make) => {
    const configs = renderAll(planOf(make()));
    expect(configs.length).toBeGreaterThan(1);
    for (const [what, text] of configs) {
      const r = validate(`${name.split(" ")[0]}-${what}`, text);
      expect(r.status, `${name}: ${what}\n${r.out}\n${text}`).toBe(0);
    }
  });

  it("accepts the init config the layer itself exposes (DebVisorCluster.services.kubernetes: no secrets, kubeadm mints them)", () => {
    const args = loadStackConfig(STACKS[1][1](), { readFile: fakeFiles });
    const members = args.nodes.map((n) => ({ name: n.name, node: {} as any, host: n.host as any, args: n, layers: ["kubernetes"], ready: undefined }));
    const k = buildKubernetesCluster({ name: "debvisor", parent: {} as any, members, all: members, outputs: {} });
    const r = validate("layer-init", k.initConfiguration);
    expect(r.status, `${r.out}\n${k.initConfiguration}`).toBe(0);
  });

  it("can fail: a misspelt field, a broken pod network and an unsupported version are refused", () => {
    const text = renderInitConfig(planOf(validStackConfig(1)));
    const misspelt = validate("broken-field", text.replace("podSubnet:", "podSubnett:"));
    expect(misspelt.status).not.toBe(0);
    expect(misspelt.out).toContain('unknown field "networking.podSubnett"');
    const network = validate("broken-network", text.replace("podSubnet: 10.244.0.0/16", "podSubnet: 10.244.0.0/33"));
    expect(network.status).not.toBe(0);
    expect(network.out).toContain("networking.podSubnet");
    const old = validate("broken-version", text.replace(`kubernetesVersion: ${KUBERNETES_VERSION}`, "kubernetesVersion: v1.20.0"));
    expect(old.status).not.toBe(0);
    const join = renderJoinConfig(planOf(validStackConfig(2)), "n2", { token: TOKEN, caCertHash: CA_HASH });
    const noDiscovery = validate("broken-join", join.replace("caCertHashes:", "caCertHashez:"));
    expect(noDiscovery.status).not.toBe(0);
    expect(noDiscovery.out).toContain("caCertHashez");
  });

  it("cleans up", () => {
    rmSync(dir, { recursive: true, force: true });
  });
});
