import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { installMocks, parentName, plaintextOccurrences, type Registration, partText } from "../support/mocks.js";
import { CANARY_KEY, CANARY_TOKEN, HOST_KEY, HOST_KEY_2 } from "../support/fixtures.js";

// Mocks first, then the modules that register resources.
const mocks = await installMocks();
const pulumi = await import("@pulumi/pulumi");
const { DebVisorCluster, DebVisorNode, RemoteStep, resolveHost } = await import("../../components/index.js");

const hostArgs = (address: string, hostKey = HOST_KEY) => ({ address, user: "debvisor", privateKey: pulumi.secret(CANARY_KEY), hostKey });

describe("components under mocks", () => {
  let regs: Registration[];
  beforeAll(async () => {
    mocks.reset();
    new DebVisorCluster("lab", {
      nodes: [
        { name: "n1", host: hostArgs("10.213.0.11"), base: { packages: ["htop"] } },
        { name: "n2", host: hostArgs("10.213.0.12", HOST_KEY_2), base: { release: "trixie" } },
      ],
    });
    new RemoteStep("secret-step", { host: resolveHost(hostArgs("10.213.0.13")), script: "base/packages.sh", params: { DV_PACKAGES: "jq" }, secretParams: { DV_TOKEN: pulumi.secret(CANARY_TOKEN) } }, {});
    // A secret parameter handed over as a plain string is still treated as a secret.
    new RemoteStep("plain-secret-step", { host: resolveHost(hostArgs("10.213.0.14")), script: "base/packages.sh", secretParams: { DV_TOKEN: CANARY_TOKEN } }, {});
    regs = [...(await mocks.settle())];
  });

  it("registers the cluster, its nodes, their base layers and one step per layer (two for the network)", () => {
    const byType = (t: string) => regs.filter((r) => r.type === t).map((r) => r.name).sort();
    expect(byType("debvisor:index:DebVisorCluster")).toEqual(["lab"]);
    expect(byType("debvisor:index:DebVisorNode")).toEqual(["lab-n1", "lab-n2"]);
    expect(byType("debvisor:base:DebianBase")).toEqual(["lab-n1-base", "lab-n2-base"]);
    const layers = (n: string) => [
      `lab-${n}-containers-apply`, `lab-${n}-management-apply`, `lab-${n}-network-apply`, `lab-${n}-network-confirm`, `lab-${n}-security-apply`, `lab-${n}-virtualization-apply`,
    ];
    expect(byType("command:remote:Command")).toEqual([
      "lab-n1-base-apply", ...layers("n1"),
      "lab-n2-base-apply", ...layers("n2"), "plain-secret-step", "secret-step",
    ]);
  });

  it("parents every child to its component, named after it", () => {
    for (const r of regs) {
      if (["lab", "secret-step", "plain-secret-step"].includes(r.name)) continue;
      const parent = parentName(r);
      expect(parent, r.name).toBeDefined();
      expect(r.name.startsWith(`${parent}-`), `${r.name} under ${parent}`).toBe(true);
    }
  });

  it("never lets a canary secret out of a secret wrapper", () => {
    // Prove the scan can fail: an unwrapped canary is found.
    expect(plaintextOccurrences({ a: [{ b: `x${CANARY_TOKEN}` }] }, CANARY_TOKEN)).toEqual(["$.a[0].b"]);
    for (const r of regs) {
      for (const canary of [CANARY_KEY.split("\n")[1], CANARY_TOKEN]) {
        expect(plaintextOccurrences(r.raw, canary), `${r.type} ${r.name}`).toEqual([]);
      }
    }
    // ...while the secrets did reach the resources, wrapped.
    const step = regs.find((r) => r.name === "secret-step")!;
    expect(step.inputs.stdin).toContain(CANARY_TOKEN);
    expect(step.inputs.logging).toBe("none");
  });

  it("pins each node's own host key and sends parameters on stdin", () => {
    const n1 = regs.find((r) => r.name === "lab-n1-base-apply")!;
    const n2 = regs.find((r) => r.name === "lab-n2-base-apply")!;
    expect(n1.inputs.connection.hostKey).toBe(HOST_KEY);
    expect(n2.inputs.connection.hostKey).toBe(HOST_KEY_2);
    expect(n1.inputs.connection.host).toBe("10.213.0.11");
    expect(n1.inputs.stdin).toMatch(/^export DV_PACKAGES='locales tzdata .* xfsprogs btrfs-progs lvm2 htop'$/m); // the storage layer's tools with the base packages, the node's own last
    expect(n1.inputs.create).not.toContain("htop");
    expect(n1.inputs.create.startsWith("sudo -n ")).toBe(true);
    expect(n1.inputs.addPreviousOutputInEnv).toBe(false);
    expect(n1.inputs.environment).toBeUndefined();
    expect(n2.inputs.stdin).toContain("Suites: trixie trixie-updates");
  });

  it("starts each layer's first step only after the layer before it (children do not inherit a component's dependsOn)", () => {
    const deps = (n: string) => regs.find((r) => r.name === n)!.dependsOn;
    expect(deps("lab-n1-security-apply")).toEqual(["lab-n1-base-apply"]);
    expect(deps("lab-n1-network-apply")).toEqual(["lab-n1-security-apply"]);
    expect(deps("lab-n1-containers-apply")).toEqual(["lab-n1-network-confirm"]);
    expect(deps("lab-n1-virtualization-apply")).toEqual(["lab-n1-containers-apply"]);
    expect(deps("lab-n1-management-apply")).toEqual(["lab-n1-virtualization-apply"]);
  });

  it("runs the base parts in order apt -> packages -> locale -> facts, in one step", () => {
    const stdin = regs.find((r) => r.name === "lab-n1-base-apply")!.inputs.stdin as string;
    const at = (p: string) => stdin.indexOf(`# --- part ${p}: `);
    expect(at("apt")).toBeGreaterThan(0);
    expect([at("apt"), at("packages"), at("locale"), at("facts")]).toEqual([at("apt"), at("packages"), at("locale"), at("facts")].sort((a, b) => a - b));
    expect(partText(stdin, "apt")).toContain("# --- part apt: base/apt-sources.sh");
    // Every part but facts runs only when the host has not applied it yet.
    expect(partText(stdin, "packages")).toMatch(/^if dv_part_due packages [0-9a-f]{32}; then$/m);
    expect(partText(stdin, "facts")).not.toContain("dv_part_due");
  });
});

describe("validation registers nothing", () => {
  beforeEach(() => mocks.reset());
  it("a node without a pinned host key throws before registering", async () => {
    expect(() => new DebVisorNode("bad", { host: { address: "10.0.0.1", privateKey: "k" } })).toThrow(/node\.host\.hostKey/);
    expect(await mocks.settle()).toEqual([]);
  });
  it("a cluster with a bad node throws naming it", async () => {
    expect(() => new DebVisorCluster("c", { nodes: [{ name: "a", host: hostArgs("10.0.0.1") }, { name: "b", host: hostArgs("10.0.0.300") }] })).toThrow(
      'cluster.nodes[1].host.address: not an IP address or host name, got "10.0.0.300"',
    );
    expect(await mocks.settle()).toEqual([]);
  });
});
