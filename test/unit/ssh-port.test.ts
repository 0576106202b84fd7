import { describe, expect, it } from "vitest";
import { installMocks, parentName, partText } from "../support/mocks.js";
import { CANARY_KEY, HOST_KEY, fakeFiles, validStackConfig } from "../support/fixtures.js";

// Changing a node's SSH port: sshd moves first (over the old port, confirmed over the new
// one), every other step dials the new port after it; with no change nothing extra runs.
const mocks = await installMocks();
const pulumi = await import("@pulumi/pulumi");
const { DebVisorNode } = await import("../../components/index.js");
const { loadStackConfig, deployStack } = await import("../../stacks/index.js");

const host = { address: "10.213.0.12", port: 2222, user: "debvisor", privateKey: pulumi.secret(CANARY_KEY), hostKey: HOST_KEY };

describe("moving sshd to the node's port", () => {
  it("moves first: the move dials the old port, the confirm and every later step the new one", async () => {
    mocks.reset();
    new DebVisorNode("m", { host, profile: "minimal", currentSshPort: 22, security: { portMoveRollbackSeconds: 30, clusterNetworks: ["10.213.0.0/24"] } });
    const regs = await mocks.settle();
    const reg = (n: string) => regs.find((r) => r.name === n)!;
    expect(parentName(reg("m-ssh-port-move"))).toBe("m-ssh-port");
    expect(reg("m-ssh-port-move").inputs.connection.port).toBe(22);
    expect(reg("m-ssh-port-confirm").inputs.connection.port).toBe(2222);
    expect(reg("m-ssh-port-confirm").dependsOn).toEqual(["m-ssh-port-move"]);
    expect(reg("m-base-apply").dependsOn).toEqual(["m-ssh-port-confirm"]);
    expect(reg("m-base-apply").inputs.connection.port).toBe(2222);
    expect(reg("m-ssh-port-move").inputs.stdin).toContain("export DV_ROLLBACK_SECONDS='30'");
    // Its dials outlast the rollback window (a port that never answers fails after the rollback).
    expect(reg("m-ssh-port-confirm").inputs.connection.dialErrorLimit * 5).toBeGreaterThan(30);
    // The firewall and fail2ban follow the new port.
    expect(partText(reg("m-security-apply").inputs.stdin, "firewall")).toContain("tcp dport 2222");
    expect(partText(reg("m-security-apply").inputs.stdin, "fail2ban")).toContain("port = 2222");
  });

  it("registers no move when sshd is where the config says", async () => {
    mocks.reset();
    new DebVisorNode("s", { host, profile: "minimal", currentSshPort: 2222 });
    new DebVisorNode("t", { host: { ...host, address: "10.213.0.13" }, profile: "minimal" });
    const regs = await mocks.settle();
    expect(regs.filter((r) => r.name.includes("ssh-port"))).toEqual([]);
    expect(regs.find((r) => r.name === "s-base-apply")!.dependsOn).toEqual([]);
  });

  it("the stack loader moves a node whose previous port differs; its outputs carry the port", async () => {
    mocks.reset();
    const cfg = validStackConfig();
    cfg.nodes[0].port = 2222;
    const args = loadStackConfig(cfg, { readFile: fakeFiles, currentSshPorts: { n1: 22, n2: 22 } });
    expect(args.nodes.map((n) => n.currentSshPort)).toEqual([22, undefined, undefined]);
    const cluster = deployStack(cfg, { readFile: fakeFiles, currentSshPorts: { n1: 22 } });
    const regs = await mocks.settle();
    expect(regs.filter((r) => r.name.includes("ssh-port-")).map((r) => r.name).sort()).toEqual(["debvisor-n1-ssh-port-confirm", "debvisor-n1-ssh-port-move"]);
    expect(cluster.nodes.n1.port).toBe(2222);
    expect(() => new DebVisorNode("x", { host, currentSshPort: 0 })).toThrow("node.currentSshPort: must be an integer from 1 to 65535, got 0");
  });
});
