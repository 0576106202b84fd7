import { describe, expect, it } from "vitest";
import { readFileSync, readdirSync } from "node:fs";
import { installMocks, parentName } from "../support/mocks.js";
import { CANARY_KEY, HOST_KEY, fakeFiles, validStackConfig } from "../support/fixtures.js";
import { sample } from "../support/step-samples.js";

const mocks = await installMocks();
const pulumi = await import("@pulumi/pulumi");
const { DebVisorNode, DebVisorCluster, DEFAULT_CATALOG, DEFAULT_HELD_PACKAGES, LAYERS } = await import("../../components/index.js");
const { loadStackConfig } = await import("../../stacks/index.js");
const { exampleLayer } = await import("../layers/example/layer.js");

const host = { address: "10.213.0.11", user: "debvisor", privateKey: pulumi.secret(CANARY_KEY), hostKey: HOST_KEY };

describe("the layer catalog", () => {
  it("builds layers in catalog order; every profile names only catalog layers", () => {
    expect(LAYERS.map((l) => l.name)).toEqual(["ssh-port", "base", "security", "network", "storage", "containers", "kubernetes", "virtualization", "management"]);
    for (const [profile, names] of Object.entries(DEFAULT_CATALOG.profiles)) {
      for (const n of names) expect(LAYERS.map((l) => l.name), `${profile}: ${n}`).toContain(n);
    }
  });

  it("holds every layer's packages, in the order converged hosts already have", () => {
    expect(DEFAULT_HELD_PACKAGES).toEqual(["kubelet", "kubeadm", "kubectl", "containerd", "containerd.io", "runc", "docker.io", "docker-compose", "docker-cli", "docker-buildx", "cri-tools", "ceph*", "librados*", "librbd*", "libcephfs*", "python3-ceph*", "python3-rados", "python3-rbd", "python3-cephfs", "python3-rgw", "radosgw", "rbd-*", "zfs*", "libzfs*", "libzpool*", "libnvpair*", "libuutil*"]);
  });

  it("a test-only layer added to a catalog appears on nodes of a profile that names it, with its settings, rules and contributions", async () => {
    mocks.reset();
    const catalog = { layers: [...LAYERS.slice(0, -1), exampleLayer, LAYERS[LAYERS.length - 1]], profiles: { ...DEFAULT_CATALOG.profiles, lab: ["base", "security", "example"] } };
    const args = { host, profile: "lab", catalog, security: { clusterNetworks: ["10.213.0.0/24"] }, example: { open: true, port: 8080 } };
    const node = new DebVisorNode("t", args as never);
    const other = new DebVisorNode("u", { host: { ...host, address: "10.213.0.12" }, profile: "minimal", catalog });
    const regs = await mocks.settle();
    expect(node.layers).toEqual(["ssh-port", "base", "security", "example", "management"]);
    expect(other.layers).not.toContain("example");
    const step = regs.find((r) => r.name === "t-example-facts")!;
    expect(parentName(step)).toBe("t-example");
    expect(step.dependsOn).toContain("t-security-apply"); // after the layer before it
    expect(regs.some((r) => r.name.startsWith("u-example"))).toBe(false);
    // Its contributions reach the other layers: the firewall port, the held package.
    const firewall = regs.find((r) => r.name === "t-security-apply")!;
    expect(firewall.inputs.stdin).toContain('tcp dport 8080 accept comment "example"');
    expect(regs.find((r) => r.name === "u-security-apply")!.inputs.stdin).toContain("example-daemon");
    // Its settings are validated like any layer's, naming the field.
    expect(() => new DebVisorNode("v", { ...args, example: { open: true } } as never)).toThrow("node.example.port: is needed when open is true");
    expect(() => new DebVisorNode("w", { ...args, example: { port: 80 } } as never)).toThrow("node.example.port: must be 1024 or more, got 80");
  });

  it("validates each object once: the stack loader's result is not checked again by the cluster and its nodes", async () => {
    mocks.reset();
    const args = loadStackConfig(validStackConfig(), { readFile: fakeFiles });
    // Break a node after loading: a cluster that validated again would throw.
    (args.nodes[0].host as { port?: number }).port = 70000;
    expect(() => new DebVisorCluster("c", args)).not.toThrow();
    await mocks.settle();
    // A library user's args are validated (every problem at once).
    const bad = { nodes: [{ name: "a", host: { ...host, port: 70000 }, network: { vlans: [{ id: 0, link: "br0" }] } }] };
    expect(() => new DebVisorCluster("d", bad)).toThrow(/cluster\.nodes\[0\]\.host\.port: must be an integer from 1 to 65535, got 70000\ncluster\.nodes\[0\]\.network\.vlans\[0\]\.id: must be an integer from 1 to 4094, got 0/);
  });
});

describe("step parameters", () => {
  // The DV_ names a script reads (minus the ones it sets itself and DV_OP, set by the command).
  // (Names a script only assigns, e.g. DV_LIVE for its python helper, are not parameters.)
  const reads = (script: string) => {
    const text = readFileSync(`components/${script}`, "utf8");
    const used = new Set([...text.matchAll(/\$\{?(DV_[A-Z0-9_]+)/g)].map((m) => m[1]));
    used.delete("DV_OP");
    return [...used].sort();
  };
  const scripts = (readdirSync("components", { recursive: true }) as string[]).filter((f) => f.endsWith(".sh") && f !== "host/lib.sh" && !f.includes("/files/") && !f.includes("/include/")).sort();

  it.each(scripts)("%s: its builder produces exactly the DV_ names it reads", (script) => {
    for (const release of ["bookworm", "trixie"] as const) {
      const params = sample(release)[script];
      expect(params, `no builder sample for ${script}`).toBeDefined();
      expect(Object.keys(params).sort(), `${script} (${release})`).toEqual(reads(script));
    }
  });
});
