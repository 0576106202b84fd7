import { beforeEach, describe, expect, it } from "vitest";
import { installMocks } from "../support/mocks.js";
import { CANARY_KEY, HOST_KEY, fakeFiles, validStackConfig } from "../support/fixtures.js";

const mocks = await installMocks();
const { deployStack, loadStackConfig, StackConfigError } = await import("../../stacks/index.js");

type Mutate = (c: any) => void;
const node = (i: number) => (c: any) => c.nodes[i];

/** Each invalid config, and the field + value its error must name. */
const INVALID: [string, Mutate, RegExp][] = [
  ["empty node list", (c) => (c.nodes = []), /- nodes: at least one node is required, got \[\]/],
  ["missing node list", (c) => delete c.nodes, /- nodes: is required/],
  ["duplicate node names", (c) => (node(2)(c).name = "n1"), /nodes\[2\]\.name: duplicate of nodes\[0\]\.name, got "n1"/],
  ["duplicate addresses", (c) => (node(1)(c).address = "10.213.0.12"), /nodes\[1\]\.address: duplicate of nodes\[0\]\.address, got "10.213.0.12"/],
  ["bad IP address", (c) => (node(2)(c).address = "10.0.0.300"), /nodes\[2\]\.address: not an IP address or host name, got "10.0.0.300"/],
  ["bad host name", (c) => (node(0)(c).address = "bad_host!"), /nodes\[0\]\.address: not an IP address or host name, got "bad_host!"/],
  ["bad node name", (c) => (node(0)(c).name = "N1_upper"), /nodes\[0\]\.name: must be lower-case letters.*got "N1_upper"/],
  ["unknown release", (c) => (c.defaults.release = "buster"), /defaults\.release: must be one of bookworm, trixie, got "buster"/],
  ["unknown release on a node", (c) => (node(1)(c).release = "sid"), /nodes\[1\]\.release: must be one of bookworm, trixie, got "sid"/],
  ["missing host key", (c) => delete node(1)(c).hostKeyFile, /nodes\[1\]\.hostKey: a pinned host key .* is required/],
  ["host key and opt-out together", (c) => (node(0)(c).insecureSkipHostKeyCheck = true), /nodes\[0\]\.insecureSkipHostKeyCheck: cannot be true when a host key is pinned/],
  ["malformed host key", (c) => { delete node(0)(c).hostKeyFile; node(0)(c).hostKey = "ssh-ed25519"; }, /nodes\[0\]\.hostKey: not an SSH public key line/],
  ["host key and host key file", (c) => (node(0)(c).hostKey = HOST_KEY), /nodes\[0\]\.hostKeyFile: set hostKey or hostKeyFile, not both/],
  ["missing private key", (c) => delete c.defaults.privateKeyFile, /nodes\[0\]\.privateKeyFile: no SSH private key/],
  ["unreadable private key", (c) => (c.defaults.privateKeyFile = "/nowhere/key"), /defaults\.privateKeyFile: cannot read "\/nowhere\/key" \(ENOENT\)/],
  ["unreadable host key file", (c) => (node(2)(c).hostKeyFile = "/nowhere/n3.pub"), /nodes\[2\]\.hostKeyFile: cannot read "\/nowhere\/n3.pub"/],
  ["relative key path", (c) => (c.defaults.privateKeyFile = "id_ed25519"), /defaults\.privateKeyFile: must be an absolute path, got "id_ed25519"/],
  ["malformed disk id", (c) => (node(0)(c).disks = ["/dev/sdb"]), /nodes\[0\]\.disks\[0\]: must be a \/dev\/disk\/by-id\/ path, got "\/dev\/sdb"/],
  ["disk listed twice", (c) => (node(0)(c).disks = ["/dev/disk/by-id/ata-X_1", "/dev/disk/by-id/ata-X_1"]), /nodes\[0\]\.disks\[1\]: listed twice/],
  ["port out of range", (c) => (node(1)(c).port = 0), /nodes\[1\]\.port: .*got 0/],
  ["port not a number", (c) => (c.defaults.port = "22"), /defaults\.port: .*got "22"/],
  ["bad user", (c) => (c.defaults.user = "Root User"), /defaults\.user: not a valid user name, got "Root User"/],
  ["bad package name", (c) => (node(0)(c).packages = ["htop", "Not A Package"]), /nodes\[0\]\.packages\[1\]: not a Debian package name, got "Not A Package"/],
  ["bad mirror", (c) => (c.defaults.mirror = "deb.debian.org/debian"), /defaults\.mirror: not an http\(s\) URL, got "deb.debian.org\/debian"/],
  ["bad apt proxy", (c) => (c.defaults.aptProxy = "socks5://x:1080"), /defaults\.aptProxy: not an http\(s\) URL/],
  ["unknown profile", (c) => (node(0)(c).profile = "gaming"), /nodes\[0\]\.profile: must be one of hyperconverged, compute, containers, storage, minimal, got "gaming"/],
  ["bad locale", (c) => (c.defaults.locale = "C"), /defaults\.locale: must look like en_US.UTF-8, got "C"/],
  ["typo in a field name", (c) => (node(1)(c).adress = "10.0.0.1"), /nodes\[1\]\.adress: unknown field/],
  ["not an object", (c) => (c.nodes[0] = "n1"), /nodes\[0\]: .*got "n1"/],
];

describe("stack config", () => {
  beforeEach(() => mocks.reset());

  it("has at least 15 invalid cases", () => expect(INVALID.length).toBeGreaterThanOrEqual(15));

  it.each(INVALID)("%s: fails naming the field, registers nothing", async (_label, mutate, expected) => {
    const cfg = validStackConfig();
    mutate(cfg);
    let error: unknown;
    try {
      deployStack(cfg, { readFile: fakeFiles });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StackConfigError);
    expect((error as Error).message).toMatch(expected);
    expect(await mocks.settle()).toEqual([]);
  });

  it("lists every problem at once", () => {
    const cfg = validStackConfig();
    cfg.nodes[0].address = "10.0.0.300";
    cfg.nodes[2].release = "sid";
    expect(() => loadStackConfig(cfg, { readFile: fakeFiles })).toThrow(/nodes\[0\]\.address[\s\S]*nodes\[2\]\.release/);
  });

  it("a valid config registers the cluster, with defaults applied and overridden per node", async () => {
    const cfg = validStackConfig();
    cfg.nodes[1].packages = ["htop"];
    cfg.nodes[2].release = "trixie";
    const args = loadStackConfig(cfg, { readFile: fakeFiles });
    expect(args.nodes.map((n) => n.host.user)).toEqual(["debvisor", "debvisor", "debvisor"]);
    expect(args.nodes[1].base?.packages).toEqual(["htop"]);
    expect(args.nodes.map((n) => n.base?.release)).toEqual(["bookworm", "bookworm", "trixie"]);
    expect(args.nodes[0].host.hostKey).toBe(HOST_KEY);
    deployStack(cfg, { readFile: fakeFiles });
    const regs = await mocks.settle();
    // Per node: one step each for base, security, containers, virtualization and
    // management, two for the network (apply, then confirm over a new connection); no
    // storage step without Ceph, ZFS, md, LVM or filesystems (its tools come with the base packages).
    expect(regs.filter((r) => r.type === "command:remote:Command")).toHaveLength(21);
  });

  it("takes the private key from the secret debvisor:sshPrivateKey when no file is named", async () => {
    const cfg = validStackConfig();
    delete cfg.defaults.privateKeyFile;
    const args = loadStackConfig(cfg, { readFile: fakeFiles, sshPrivateKey: CANARY_KEY });
    expect(await (args.nodes[0].host.privateKey as any).isSecret).toBe(true);
  });

  it("the dev stack file itself is valid", async () => {
    const { parse } = await import("yaml");
    const { readFileSync } = await import("node:fs");
    const dev = parse(readFileSync("Pulumi.dev.yaml", "utf8")).config["debvisor:cluster"];
    const lab = (p: string) => (p.endsWith(".pub") ? `${HOST_KEY}\n` : CANARY_KEY);
    const args = loadStackConfig(dev, { readFile: lab });
    expect(args.nodes.map((n) => n.host.address)).toEqual(["10.213.0.11", "10.213.0.12", "10.213.0.13"]);
    expect(args.nodes.every((n) => n.host.hostKey === HOST_KEY && !n.host.insecureSkipHostKeyCheck)).toBe(true);
    const prod = parse(readFileSync("Pulumi.prod.yaml.example", "utf8")).config["debvisor:cluster"];
    expect(loadStackConfig(prod, { sshPrivateKey: CANARY_KEY }).nodes).toHaveLength(3);
  });
});
