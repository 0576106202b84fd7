import { describe, expect, it } from "vitest";
import { connectionFor, isAddress, resolveHost, validateHostArgs } from "../../components/host/index.js";
import { HOST_KEY } from "../support/fixtures.js";

describe("host", () => {
  it("refuses a connection without a pinned host key", () => {
    expect(() => validateHostArgs({ address: "10.0.0.1", privateKey: "k" })).toThrow(/host\.hostKey: a pinned host key is required for 10\.0\.0\.1/);
  });
  it("accepts no host key only with the explicit opt-out", () => {
    expect(() => validateHostArgs({ address: "10.0.0.1", privateKey: "k", insecureSkipHostKeyCheck: true })).not.toThrow();
    expect(() => validateHostArgs({ address: "10.0.0.1", privateKey: "k", insecureSkipHostKeyCheck: false })).toThrow(/hostKey/);
  });
  it("refuses a pinned key together with the opt-out", () => {
    expect(() => validateHostArgs({ address: "10.0.0.1", privateKey: "k", hostKey: HOST_KEY, insecureSkipHostKeyCheck: true })).toThrow(/insecureSkipHostKeyCheck/);
  });
  it("names the bad field and value", () => {
    expect(() => validateHostArgs({ address: "10.0.0.300", privateKey: "k", hostKey: HOST_KEY }, "nodes[2].host")).toThrow('nodes[2].host.address: not an IP address or host name, got "10.0.0.300"');
    expect(() => validateHostArgs({ address: "h", port: 70000, privateKey: "k", hostKey: HOST_KEY })).toThrow("host.port: must be an integer from 1 to 65535, got 70000");
    expect(() => validateHostArgs({ address: "h", privateKey: "k", hostKey: "not a key" })).toThrow(/host\.hostKey: not an SSH public key line/);
  });
  it("tells addresses from junk", () => {
    for (const ok of ["10.0.0.1", "::1", "fe80::1", "node-1.example.org", "n1"]) expect(isAddress(ok), ok).toBe(true);
    for (const bad of ["10.0.0.300", "1.2.3", "-x", "a_b", "", "x".repeat(64)]) expect(isAddress(bad), bad).toBe(false);
  });
  it("pins the host key; the whole connection (private key included) is one secret, shared by a host's steps", async () => {
    const host = resolveHost({ address: "10.0.0.1", privateKey: "k", hostKey: `${HOST_KEY}\n` });
    const conn = connectionFor(host);
    expect(await (conn as any).isSecret).toBe(true);
    const c = await (conn as any).promise();
    expect(c.hostKey).toBe(HOST_KEY);
    expect(c.port).toBe(22);
    expect(c.user).toBe("root");
    expect(c.privateKey).toBe("k");
    expect(connectionFor(host)).toBe(conn);
  });
});
