import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { parseAllDocuments } from "yaml";
import { installMocks, parentName } from "../support/mocks.js";
import { fakeFiles, validStackConfig } from "../support/fixtures.js";
import { sample } from "../support/step-samples.js";

// The Kubernetes layer's host side: nothing without kubernetes.enabled; with it, each
// node's step and the cluster's kubeadm steps, their order, secrets and pins.
const TOKEN = (i: number) => `tok00${i}.${String(i).repeat(16)}`;
const CERT_KEY = "c0ffee".repeat(10) + "c0ff";
const CA_HASH = `sha256:${"ab".repeat(32)}`;
const KUBECONFIG = "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://10.213.0.10:6443\n  name: debvisor\n";
const RBD_KEY = "AQBrbdCANARY0000000000000000000000000000==";
const b64 = (s: string) => Buffer.from(s).toString("base64");
const mocks = await installMocks({
  stdout: (name) => {
    if (name === "debvisor-ceph-bootstrap") return ["fsid=0b3c6a6e-1111-4222-8333-944455556666", "key.mon=AQBmon==", "key.admin=AQBadmin==", "key.bootstrap-osd=AQBosd=="].map((f) => `@fact ceph.${f}\n`).join("");
    if (name === "debvisor-ceph-pools") return `@fact ceph.key.client.kubernetes=${RBD_KEY}\n@fact ceph.key.client.kubernetes-cephfs=AQBcephfs==\n`;
    if (name.endsWith("-k8s-init")) return `@changed ran kubeadm init\n@fact ca_cert_hash=${CA_HASH}\n@fact kubeconfig=${b64(KUBECONFIG)}\n`;
    const token = /-k8s-token-n(\d)$/.exec(name);
    if (token) {
      const i = Number(token[1]);
      return `@fact join.n${i}.token=${TOKEN(i)}\n${i <= 3 ? `@fact join.n${i}.certificate_key=${CERT_KEY}\n` : ""}`;
    }
    return "";
  },
});
const { deployStack, loadStackConfig, stackOutputs } = await import("../../stacks/index.js");
const k8sModule = await import("../../components/kubernetes/index.js");
const { renderKeepalivedConf, renderPartsPayload, kubernetesNodeParts } = { ...k8sModule, ...(await import("../../components/host/index.js")) };
type Plan = import("../../components/kubernetes/cluster.js").KubernetesClusterPlan;

/** Three control planes behind a VIP, and workers. */
function haConfig(workers = 1, kubernetes: Record<string, unknown> = { enabled: true }) {
  const c = validStackConfig(3 + workers);
  c.defaults.security = { clusterNetworks: ["10.213.0.0/24"] };
  c.defaults.kubernetes = { controlPlaneEndpoint: { address: "10.213.0.10" }, ...kubernetes };
  for (let i = 0; i < 3; i++) c.nodes[i].kubernetes = { role: "controlPlane" };
  return c;
}
const isK8s = (r: { type: string; name: string }) => /kubernetes/i.test(r.type) || /-kubernetes|-k8s/.test(r.name);
/** The host side only: not the provider and the cluster objects made through it. */
const isHostSide = (r: { type: string; name: string }) => isK8s(r) && !/-k8s-(addons|provider)/.test(r.name);
const stdinOf = (r: { inputs: Record<string, any> }) => String(r.inputs.stdin);

describe("kubernetes.enabled off (the default)", () => {
  it("a hyperconverged cluster registers exactly what it did before: no Kubernetes resource, the same inputs", async () => {
    const shape = async (kubernetes?: Record<string, unknown>) => {
      mocks.reset();
      const c = validStackConfig(3);
      c.defaults.security = { clusterNetworks: ["10.213.0.0/24"] };
      if (kubernetes) c.defaults.kubernetes = kubernetes;
      const cluster = deployStack(c, { readFile: fakeFiles });
      const regs = await mocks.settle();
      return { cluster, regs, text: JSON.stringify(regs.map((r) => [r.type, r.name, r.parent, r.dependsOn, r.inputs.triggers ?? null, r.inputs.stdin ?? null])) };
    };
    const none = await shape();
    const off = await shape({ enabled: false, role: "controlPlane", controlPlaneEndpoint: { address: "10.213.0.10" } });
    expect(none.regs.length).toBe(43); // as before the host steps (the HEAD they were added on: same names, parents, dependsOn, triggers and payloads)
    expect(none.regs.filter(isK8s).map((r) => r.name)).toEqual([]);
    expect(off.text).toBe(none.text);
    // The plan is still rendered; a provider is refused with the reason.
    const k = off.cluster.services.kubernetes as Plan;
    expect(k.plan.controlPlanes.map((n) => n.name)).toEqual(["n1", "n2", "n3"]);
    expect(k.kubeconfig).toBeUndefined();
    expect(stackOutputs(off.cluster).kubernetes).toBeUndefined();
    expect(() => k.provider()).toThrow(/kubernetes\.enabled is off/);
  });
});

describe("kubernetes.enabled: the host steps", () => {
  it("registers each node's apply step after its containers layer, then init, and per joining node its token and join steps in order", async () => {
    mocks.reset();
    deployStack(haConfig(2), { readFile: fakeFiles });
    const regs = await mocks.settle();
    // Registration order under mocks follows when inputs resolve: the order of the steps is their dependsOn.
    const names = regs.filter(isHostSide).map((r) => r.name).sort();
    expect(names).toEqual([
      "debvisor-k8s", "debvisor-n1-kubernetes", "debvisor-n1-kubernetes-apply", "debvisor-n2-kubernetes", "debvisor-n2-kubernetes-apply",
      "debvisor-n3-kubernetes", "debvisor-n3-kubernetes-apply", "debvisor-n4-kubernetes", "debvisor-n4-kubernetes-apply",
      "debvisor-n5-kubernetes", "debvisor-n5-kubernetes-apply",
      "debvisor-k8s-init", "debvisor-k8s-token-n2", "debvisor-k8s-token-n3", "debvisor-k8s-token-n4", "debvisor-k8s-token-n5",
      "debvisor-k8s-join-n2", "debvisor-k8s-join-n3", "debvisor-k8s-join-n4", "debvisor-k8s-join-n5",
    ].sort());
    const by = (n: string) => regs.find((r) => r.name === n)!;
    expect(by("debvisor-n1-kubernetes").type).toBe("debvisor:kubernetes:KubernetesNode");
    expect(parentName(by("debvisor-n1-kubernetes"))).toBe("debvisor-n1");
    expect(parentName(by("debvisor-n1-kubernetes-apply"))).toBe("debvisor-n1-kubernetes");
    expect(by("debvisor-n1-kubernetes-apply").dependsOn).toEqual(["debvisor-n1-containers-apply"]);
    expect(by("debvisor-k8s").type).toBe("debvisor:kubernetes:KubernetesCluster");
    expect(parentName(by("debvisor-k8s"))).toBe("debvisor");
    for (const n of ["init", "token-n2", "join-n2"]) expect(parentName(by(`debvisor-k8s-${n}`))).toBe("debvisor-k8s");
    expect(by("debvisor-k8s-init").dependsOn).toEqual(["debvisor-n1-kubernetes-apply"]);
    const deps = (n: string) => [...new Set(by(n).dependsOn)].sort();
    // Control planes one after another (a token step uploads the certificates under a new
    // key: the next one waits for the previous join); workers after the init, in parallel.
    expect(deps("debvisor-k8s-token-n2")).toEqual(["debvisor-k8s-init"]);
    expect(deps("debvisor-k8s-token-n3")).toEqual(["debvisor-k8s-init", "debvisor-k8s-join-n2"]);
    expect(deps("debvisor-k8s-token-n4")).toEqual(["debvisor-k8s-init"]);
    expect(deps("debvisor-k8s-token-n5")).toEqual(["debvisor-k8s-init"]);
    // (init is there too: the join's input, its CA hash, comes from the init's output.)
    expect(deps("debvisor-k8s-join-n2")).toEqual(["debvisor-k8s-init", "debvisor-k8s-token-n2", "debvisor-n2-kubernetes-apply"]);
    expect(deps("debvisor-k8s-join-n3")).toEqual(["debvisor-k8s-init", "debvisor-k8s-join-n2", "debvisor-k8s-token-n3", "debvisor-n3-kubernetes-apply"]);
    expect(deps("debvisor-k8s-join-n4")).toEqual(["debvisor-k8s-init", "debvisor-k8s-token-n4", "debvisor-n4-kubernetes-apply"]);
    expect(deps("debvisor-k8s-join-n5")).toEqual(["debvisor-k8s-init", "debvisor-k8s-token-n5", "debvisor-n5-kubernetes-apply"]);
    // The node's later layers do not wait for it (it is registered across the cluster).
    expect(by("debvisor-n1-kubernetes-apply").inputs.create).toContain("step debvisor-n1-kubernetes-apply start");
  });

  it("a single control plane without a VIP: init only, no token, no join, no keepalived", async () => {
    mocks.reset();
    const c = validStackConfig(1);
    c.defaults.kubernetes = { enabled: true };
    deployStack(c, { readFile: fakeFiles });
    const regs = await mocks.settle();
    expect(regs.filter(isHostSide).map((r) => r.name)).toEqual(["debvisor-k8s", "debvisor-n1-kubernetes", "debvisor-n1-kubernetes-apply", "debvisor-k8s-init"]);
    const apply = stdinOf(regs.find((r) => r.name === "debvisor-n1-kubernetes-apply")!);
    expect(apply).toContain("# --- part images: kubernetes/images.sh");
    expect(apply).not.toContain("part vip");
    expect(stdinOf(regs.find((r) => r.name === "debvisor-k8s-init")!)).toContain("export DV_UPLOAD_CERTS='0'");
  });

  it("parts per role: control planes get the VIP and the images, workers neither; the packages are pinned", async () => {
    mocks.reset();
    deployStack(haConfig(1), { readFile: fakeFiles });
    const regs = await mocks.settle();
    const parts = (n: string) => [...stdinOf(regs.find((r) => r.name === `debvisor-${n}-kubernetes-apply`)!).matchAll(/^# --- part ([a-z-]+):/gm)].map((m) => m[1]);
    expect(parts("n1")).toEqual(["repo", "packages", "kubelet", "vip", "images"]);
    expect(parts("n3")).toEqual(["repo", "packages", "kubelet", "vip", "images"]);
    expect(parts("n4")).toEqual(["repo", "packages", "kubelet"]);
    const apply = stdinOf(regs.find((r) => r.name === "debvisor-n4-kubernetes-apply")!);
    expect(apply).toContain("export DV_VERSIONS='kubeadm=1.34.4 kubelet=1.34.4 kubectl=1.34.4'");
    expect(apply).toContain("export DV_PACKAGES='kubeadm kubelet kubectl cri-tools kubernetes-cni conntrack socat ethtool jq openssl curl'");
    expect(apply).toContain("export DV_HOLD='kubernetes-cni'");
    expect(apply).toContain("Package: kubeadm kubelet kubectl\nPin: version 1.34.4-*\nPin-Priority: 1001");
    expect(apply).toContain("deb [signed-by=/etc/apt/keyrings/debvisor-kubernetes.gpg] https://pkgs.k8s.io/core:/stable:/v1.34/deb/ /");
    expect(apply).toContain("export DV_KEY_URL='https://pkgs.k8s.io/core:/stable:/v1.34/deb/Release.key'");
    expect(apply).toContain("export DV_KEY=''");
    // The record folder on the host is the layer's.
    expect(apply).toContain("dv_parts='/var/lib/debvisor/parts/kubernetes'");
  });

  it("an inline key (air-gapped site, the lab) is written as given and nothing is fetched", () => {
    const key = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQENBGMHoXcBCADukGOEQyleViOgtkMVa7hKifP6POCTh+98xNW4TfHK/nBJN2sm\n=x0cs\n-----END PGP PUBLIC KEY BLOCK-----";
    const args = loadStackConfig(haConfig(0, { enabled: true, packageRepository: { url: "http://10.213.0.1:3143/kubernetes/", key } }), { readFile: fakeFiles });
    const plan = k8sModule.kubeadmPlan(args.nodes.map((n: any) => ({ name: n.name, address: n.host.address, settings: n.kubernetes })));
    const repo = kubernetesNodeParts(plan, "n2").find((p) => p.name === "repo")!;
    expect(repo.params).toMatchObject({ DV_KEY: key, DV_KEY_URL: "", DV_APT_SOURCE: expect.stringContaining("http://10.213.0.1:3143/kubernetes/ /") });
  });

  it("secrets: init and token steps print only secret output; each join gets its token, certificate key and CA hash on secret stdin", async () => {
    mocks.reset();
    const cluster = deployStack(haConfig(1), { readFile: fakeFiles });
    const regs = await mocks.settle();
    const by = (n: string) => regs.find((r) => r.name === n)!;
    for (const n of ["debvisor-k8s-init", "debvisor-k8s-token-n2", "debvisor-k8s-token-n4", "debvisor-k8s-join-n2", "debvisor-k8s-join-n4"]) {
      expect(by(n).options.additionalSecretOutputs, n).toEqual(expect.arrayContaining(["stdout", "stderr"]));
      expect(by(n).inputs.logging, n).toBe("stderr"); // progress shown; the scripts print no secret on stderr
    }
    // The joins' payloads are secret (wrapped), the init's and token steps' hold no secret at all.
    const secretWrapped = (r: { raw: Record<string, unknown> }) => JSON.stringify(r.raw.stdin).includes("1b47061264138c4ac30d75fd1eb44270");
    expect(secretWrapped(by("debvisor-k8s-join-n2"))).toBe(true);
    const join2 = parseAllDocuments(stdinOf(by("debvisor-k8s-join-n2")).match(/export DV_JOIN_CONFIG='([^']*)'/)![1]).map((d) => d.toJS())[0];
    expect(join2.discovery.bootstrapToken).toEqual({ apiServerEndpoint: "10.213.0.10:6443", token: TOKEN(2), caCertHashes: [CA_HASH] });
    expect(join2.discovery.bootstrapToken.unsafeSkipCAVerification).toBeUndefined();
    expect(join2.controlPlane.certificateKey).toBe(CERT_KEY);
    const join4 = parseAllDocuments(stdinOf(by("debvisor-k8s-join-n4")).match(/export DV_JOIN_CONFIG='([^']*)'/)![1]).map((d) => d.toJS())[0];
    expect(join4.discovery.bootstrapToken.token).toBe(TOKEN(4));
    expect(join4.controlPlane).toBeUndefined();
    // No secret in any command line, in plaintext inputs, or in another node's payload.
    const plainText = JSON.stringify(regs.map((r) => ({ name: r.name, raw: r.raw })).map((r) => JSON.stringify(r.raw).replace(/\{"4dabf18193072939515e22adb298388d":"1b47061264138c4ac30d75fd1eb44270"[^}]*\}/g, "<secret>")));
    for (const s of [TOKEN(2), TOKEN(4), CERT_KEY, b64(KUBECONFIG)]) expect(plainText).not.toContain(s);
    for (const r of regs) if (typeof r.inputs.create === "string") expect(r.inputs.create).not.toMatch(/tok00|c0ffee/);
    expect(stdinOf(by("debvisor-k8s-join-n2"))).not.toContain(TOKEN(3));
    // The kubeconfig and CA hash reach the services.
    const k = cluster.services.kubernetes as Plan;
    expect(await (k.kubeconfig as any).isSecret).toBe(true);
    expect(await (k.kubeconfig as any).promise()).toBe(KUBECONFIG);
    expect(await (k.cluster!.caCertHash as any).promise()).toBe(CA_HASH);
    // ... and the stack's outputs, as a secret.
    const out = stackOutputs(cluster).kubernetes!;
    expect(await (out.kubeconfig as any).isSecret).toBe(true);
    expect(await (out.kubeconfig as any).promise()).toBe(KUBECONFIG);
  });

  it("each token step mints for its own node on the first control plane, with a TTL of an hour at most", async () => {
    mocks.reset();
    deployStack(haConfig(2), { readFile: fakeFiles });
    const regs = await mocks.settle();
    const token = (n: string) => regs.find((r) => r.name === `debvisor-k8s-token-${n}`)!;
    expect(stdinOf(token("n3"))).toContain("export DV_JOINERS='n3:controlPlane'");
    expect(stdinOf(token("n5"))).toContain("export DV_JOINERS='n5:worker'");
    const firstAddress = regs.find((r) => r.name === "debvisor-k8s-init")!.inputs.connection.host;
    for (const n of ["n2", "n3", "n4", "n5"]) {
      expect(stdinOf(token(n))).toContain("export DV_TTL='1h0m0s'");
      expect(token(n).inputs.connection.host, n).toBe(firstAddress);
      // upload-certs gets init's advertise address (kubeadm's own guess needs a default route).
      expect(stdinOf(token(n))).toContain(`export DV_ADVERTISE_ADDRESS='${firstAddress}'`);
    }
    const init = stdinOf(regs.find((r) => r.name === "debvisor-k8s-init")!);
    expect(init).toContain("export DV_UPLOAD_CERTS='1'");
    expect(init).toContain("export DV_ENDPOINT='10.213.0.10:6443'");
  });

  it("adding a worker adds its token and join steps and changes no other step's inputs", async () => {
    const steps = async (workers: number) => {
      mocks.reset();
      deployStack(haConfig(workers), { readFile: fakeFiles });
      const regs = await mocks.settle();
      return Object.fromEntries(regs.filter((r) => r.type === "command:remote:Command").map((r) => [r.name, JSON.stringify([r.inputs.triggers, r.inputs.stdin, r.dependsOn])]));
    };
    const before = await steps(1);
    const after = await steps(2);
    const added = Object.keys(after).filter((n) => !(n in before)).sort();
    expect(added).toEqual(expect.arrayContaining(["debvisor-k8s-join-n5", "debvisor-k8s-token-n5", "debvisor-n5-kubernetes-apply"]));
    expect(added.filter((n) => !/n5/.test(n))).toEqual([]);
    const changed = Object.keys(before).filter((n) => after[n] !== before[n]);
    expect(changed).toEqual([]);
    expect(Object.keys(before).length).toBeGreaterThan(10);
  });

  it("provider() is made on first call only, from the kubeconfig, under the cluster's component", async () => {
    mocks.reset();
    const cluster = deployStack(haConfig(0, { enabled: true, addons: false }), { readFile: fakeFiles });
    await mocks.settle();
    expect(mocks.registrations.some((r) => r.type === "pulumi:providers:kubernetes")).toBe(false);
    const k = cluster.services.kubernetes as Plan;
    const p = k.provider();
    expect(k.provider()).toBe(p);
    const regs = await mocks.settle();
    const prov = regs.filter((r) => r.type === "pulumi:providers:kubernetes");
    expect(prov.map((r) => r.name)).toEqual(["debvisor-k8s-provider"]);
    expect(parentName(prov[0])).toBe("debvisor-k8s");
    expect(prov[0].inputs.kubeconfig).toBe(KUBECONFIG);
  });
});

describe("kubernetes.enabled: the cluster objects through the cluster's provider (addons, on by default)", () => {
  it("makes KubernetesAddons under the cluster, every object through the one provider on the init's kubeconfig, Ceph's from the storage layer", async () => {
    mocks.reset();
    const c = haConfig(1, { enabled: true, charts: false, csi: { zfsPools: ["tank"] } });
    c.defaults.storage = { ceph: { publicNetwork: "10.213.0.0/24" } };
    c.nodes.forEach((n: any, i: number) => (n.storage = { osds: [`/dev/disk/by-id/ata-LAB-n${i + 1}-d1`], ...(i === 3 ? { cephRoles: ["osd"] } : {}) }));
    const cluster = deployStack(c, { readFile: fakeFiles });
    const regs = await mocks.settle();
    const k = cluster.services.kubernetes as Plan;
    expect(k.addons).toBeDefined();
    const addons = regs.find((r) => r.name === "debvisor-k8s-addons")!;
    expect(addons.type).toBe("debvisor:kubernetes:KubernetesAddons");
    expect(parentName(addons)).toBe("debvisor");
    const objects = regs.filter((r) => r.type.startsWith("kubernetes:"));
    expect(objects.length).toBeGreaterThan(0);
    for (const o of objects) {
      expect(o.provider, o.name).toBe("debvisor-k8s-provider");
      expect(parentName(o), o.name).toBe("debvisor-k8s-addons");
    }
    expect(regs.filter((r) => r.type === "pulumi:providers:kubernetes").map((r) => r.inputs.kubeconfig)).toEqual([KUBECONFIG]);
    // The storage layer's Ceph cluster feeds the CSI objects; plus the ZFS pool's class; charts off: no release.
    expect(k.ceph).toBe((cluster.services.storage as { ceph?: unknown }).ceph);
    const names = (type: string) => objects.filter((r) => r.type === type).map((r) => r.inputs.metadata.name).sort();
    expect(names("kubernetes:storage.k8s.io/v1:StorageClass")).toEqual(["ceph-cephfs", "ceph-rbd-rbd", "zfs-tank"]);
    expect(names("kubernetes:core/v1:Namespace")).toEqual(["ceph-csi-cephfs", "ceph-csi-rbd"]);
    expect(objects.some((r) => r.type === "kubernetes:helm.sh/v3:Release")).toBe(false);
    const config = objects.find((r) => r.name === "debvisor-k8s-addons-rbd-config")!;
    expect(JSON.parse(config.inputs.data["config.json"])[0].clusterID).toBe("0b3c6a6e-1111-4222-8333-944455556666");
    const secret = objects.find((r) => r.name === "debvisor-k8s-addons-rbd-secret")!;
    expect(secret.inputs.stringData).toEqual({ userID: "kubernetes", userKey: RBD_KEY });
    // Sent to the engine inside a secret wrapper (the engine's signature key and value).
    expect((secret.raw.stringData as Record<string, unknown>)["4dabf18193072939515e22adb298388d"]).toBe("1b47061264138c4ac30d75fd1eb44270");
  });

  it("addons: false makes none (and no provider), and the setting is one for the whole cluster", async () => {
    mocks.reset();
    const cluster = deployStack(haConfig(1, { enabled: true, addons: false }), { readFile: fakeFiles });
    const regs = await mocks.settle();
    expect((cluster.services.kubernetes as Plan).addons).toBeUndefined();
    expect(regs.filter((r) => r.type.startsWith("kubernetes:") || r.type === "pulumi:providers:kubernetes" || r.name.includes("addons"))).toEqual([]);
    const c = haConfig(1);
    c.nodes[3].kubernetes = { role: "worker", addons: false };
    expect(() => loadStackConfig(c, { readFile: fakeFiles })).toThrow(/nodes\[3\]\.kubernetes\.addons/);
  });
});

describe("keepalived for three control planes", () => {
  const members = [{ name: "n1", address: "10.213.0.12" }, { name: "n2", address: "10.213.0.13" }, { name: "n3", address: "10.213.0.14" }];
  it("holds the VIP on the interface, unicast to the other two, priorities by order, the health check lowering it below any healthy peer", () => {
    const conf = (self: string) => renderKeepalivedConf({ vip: "10.213.0.10", interface: "br0", members, self });
    const n2 = conf("n2");
    expect(n2).toContain("  interface br0\n");
    expect(n2).toContain("    10.213.0.10/32 dev br0\n");
    expect(n2).toContain("  unicast_src_ip 10.213.0.13\n  unicast_peer {\n    10.213.0.12\n    10.213.0.14\n  }");
    expect(n2).toContain("  state BACKUP\n");
    expect(n2).toMatch(/script "\/etc\/keepalived\/debvisor-apiserver-check"[\s\S]*weight -100/);
    const prio = (self: string) => Number(/priority (\d+)/.exec(conf(self))![1]);
    expect(members.map((m) => prio(m.name))).toEqual([200, 190, 180]);
    // Unhealthy (priority + weight) never outranks healthy.
    expect(prio("n1") - 100).toBeLessThan(prio("n3"));
    // One router id on all three.
    expect(new Set(members.map((m) => /virtual_router_id (\d+)/.exec(conf(m.name))![1])).size).toBe(1);
    expect(k8sModule.renderVipCheck()).toContain("https://127.0.0.1:6443/healthz");
  });
});

describe("settings: enabled and packageRepository", () => {
  const load = (kubernetes: Record<string, unknown>) => () => loadStackConfig(haConfig(0, kubernetes), { readFile: fakeFiles });
  it.each([
    ["enabled not a boolean", { enabled: "yes" }, /defaults\.kubernetes\.enabled: must be true or false, got "yes"/],
    ["a repository URL not ending in /", { packageRepository: { url: "https://pkgs.k8s.io/core:/stable:/v1.34/deb" } }, /kubernetes\.packageRepository\.url: must be an http:\/\/ or https:\/\/ URL ending in \//],
    ["an ftp repository", { packageRepository: { url: "ftp://mirror.example.org/k8s/" } }, /kubernetes\.packageRepository\.url: must be an http:\/\/ or https:\/\/ URL ending in \//],
    ["a key that is no armored block", { packageRepository: { url: "http://10.213.0.1:3143/kubernetes/", key: "mQENBGMHoXcBCAD" } }, /kubernetes\.packageRepository\.key: must be an ASCII-armored public key block/],
    ["a key URL over http", { packageRepository: { keyUrl: "http://pkgs.k8s.io/Release.key" } }, /kubernetes\.packageRepository\.keyUrl: must be an https:\/\/ URL/],
    ["both key and keyUrl", { packageRepository: { key: "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQENBGMH\n-----END PGP PUBLIC KEY BLOCK-----", keyUrl: "https://example.org/k.asc" } }, /kubernetes\.packageRepository\.keyUrl: give the key inline \(key\) or where to fetch it \(keyUrl\), not both/],
    ["an http repository whose key would come over http", { packageRepository: { url: "http://10.213.0.1:3143/kubernetes/" } }, /kubernetes\.packageRepository\.url: is plain http and no key is given/],
    ["a keepalived VIP on another port", { controlPlaneEndpoint: { address: "10.213.0.10", port: 8443 } }, /kubernetes\.controlPlaneEndpoint\.port: must be 6443 with mode keepalived: the VIP points straight at the kube-apiserver/],
    ["kube-vip with the host steps on", { enabled: true, controlPlaneEndpoint: { address: "10.213.0.10", mode: "kube-vip" } }, /kubernetes\.controlPlaneEndpoint\.mode: kube-vip is not set up by the host steps yet/],
  ])("refuses %s, naming the field", (_, kubernetes, error) => {
    expect(load(kubernetes)).toThrow(error);
  });

  it("accepts an https key URL, an http repository with an inline key, and kube-vip when the host steps are off", () => {
    expect(load({ packageRepository: { url: "https://mirror.example.org/k8s/v1.34/", keyUrl: "https://mirror.example.org/k8s/key.asc" } })).not.toThrow();
    expect(load({ packageRepository: { url: "http://10.213.0.1:3143/kubernetes/", key: "-----BEGIN PGP PUBLIC KEY BLOCK-----\nComment: lab\n\nmQENBGMH\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----\n" } })).not.toThrow();
    expect(load({ controlPlaneEndpoint: { address: "10.213.0.10", port: 8443, mode: "kube-vip" } })).not.toThrow();
  });

  it("enabled is one setting for the whole cluster", () => {
    const c = haConfig(0, {});
    c.nodes[1].kubernetes = { role: "controlPlane", enabled: true };
    expect(() => loadStackConfig(c, { readFile: fakeFiles })).toThrow(/nodes\[1\]\.kubernetes\.enabled: differs from nodes\[0\]\.kubernetes\.enabled \(not set\): one cluster has one enabled/);
  });

  it("the default repository follows the version's minor", () => {
    expect(k8sModule.resolveKubernetes({ version: "v1.36.1" }).packageRepository).toEqual({ url: "https://pkgs.k8s.io/core:/stable:/v1.36/deb/", keyUrl: "https://pkgs.k8s.io/core:/stable:/v1.36/deb/Release.key" });
    expect(k8sModule.resolveKubernetes({}).enabled).toBe(false);
  });
});

// The scripts as the host runs them (prelude and parameters included) pass shellcheck,
// and so does a node's whole multi-part payload.
const hasShellcheck = spawnSync("shellcheck", ["--version"]).status === 0;
describe.skipIf(!hasShellcheck)("the Kubernetes scripts pass bash -n and shellcheck", () => {
  const scripts = Object.keys(sample("bookworm")).filter((s) => s.startsWith("kubernetes/"));
  it("there are eight", () => expect(scripts.length).toBe(8));
  it.each(scripts)("%s", async (script) => {
    const { renderPayload } = await import("../../components/host/index.js");
    const payload = renderPayload(script, sample("bookworm")[script]);
    expect(spawnSync("bash", ["-n"], { input: payload, encoding: "utf8" }).status).toBe(0);
    const r = spawnSync("shellcheck", ["-s", "bash", "-"], { input: payload, encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
  it("a control plane's multi-part payload", () => {
    const args = loadStackConfig(haConfig(0), { readFile: fakeFiles });
    const plan = k8sModule.kubeadmPlan(args.nodes.map((n: any) => ({ name: n.name, address: n.host.address, settings: n.kubernetes })));
    // SC2317: a part that includes a shared helper file (apt.sh) leaves some of its functions unused.
    const r = spawnSync("shellcheck", ["-s", "bash", "-e", "SC2317", "-"], { input: renderPartsPayload("kubernetes", kubernetesNodeParts(plan, "n1")), encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
  });
});

describe("keepalived's VRRP through the firewall", () => {
  const securityStdin = (regs: { name: string; inputs: Record<string, any> }[], node: string) =>
    stdinOf(regs.find((r) => r.name === `debvisor-${node}-security-apply`)!);

  it("the nftables table lets VRRP in from the cluster networks on nodes of an enabled cluster with a keepalived VIP, and only there", async () => {
    mocks.reset();
    deployStack(haConfig(1), { readFile: fakeFiles });
    const on = await mocks.settle();
    for (const n of ["n1", "n4"]) expect(securityStdin(on, n)).toMatch(/ip saddr @\w+_v4 ip protocol vrrp accept comment "keepalived-vrrp"/);
    mocks.reset();
    deployStack(haConfig(1, { enabled: false }), { readFile: fakeFiles });
    const off = await mocks.settle();
    expect(securityStdin(off, "n1")).not.toContain("vrrp");
  });

  it("refuses a keepalived VIP on a node whose firewall is ufw (the ufw script has no place for VRRP), naming the field (the VIP's, in defaults)", () => {
    const c = haConfig(1);
    c.nodes[1].security = { firewall: "ufw" };
    expect(() => loadStackConfig(c, { readFile: fakeFiles })).toThrow(/kubernetes\.controlPlaneEndpoint\.mode: keepalived needs VRRP through the firewall.*got "keepalived"/);
    c.defaults.kubernetes.enabled = false;
    expect(() => loadStackConfig(c, { readFile: fakeFiles })).not.toThrow();
  });
});
