import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { parse as parseToml } from "smol-toml";
import { installMocks, parentName, partText, type Registration } from "../support/mocks.js";
import { CANARY_KEY, HOST_KEY, fakeFiles, validStackConfig } from "../support/fixtures.js";

const mocks = await installMocks();
const pulumi = await import("@pulumi/pulumi");
const ctr = await import("../../components/containers/index.js");
const { DebVisorNode, DEFAULT_CATALOG, resolveHost } = await import("../../components/index.js");
const { loadStackConfig } = await import("../../stacks/index.js");

const host = { address: "10.213.0.11", user: "debvisor", privateKey: pulumi.secret(CANARY_KEY), hostKey: HOST_KEY };
/** The value of `export NAME='...'` in a step text (single-quoted, as renderParams writes it). */
const param = (text: string, name: string) => {
  const m = new RegExp(`^export ${name}='((?:[^']|'\\\\'')*)'$`, "m").exec(text);
  if (!m) throw new Error(`no ${name}`);
  return m[1].replace(/'\\''/g, "'");
};

describe("containers settings", () => {
  const v = (s: unknown) => () => ctr.validateContainersSettings(s as never, "containers");
  it("accepts the defaults and a full config", () => {
    expect(v({})).not.toThrow();
    expect(v({
      docker: true, compose: true, registryMirrors: { "docker.io": ["https://mirror.example.org"], "registry.k8s.io": ["https://mirror.example.org:5000/k8s"], _default: ["http://10.0.0.5:5000"] },
      insecureRegistries: ["registry.local:5000", "10.0.0.5:5000"], sandboxImage: "registry.local:5000/pause:3.10.1", containerdRoot: "/srv/containerd", dockerDataRoot: "/srv/docker",
      logMaxSize: "50m", logMaxFiles: 5,
    })).not.toThrow();
    expect(v({ docker: false, compose: false, containerdRoot: "/data/containerd" })).not.toThrow();
  });
  it.each([
    [{ docker: "yes" }, 'containers.docker: must be true or false, got "yes"'],
    [{ compose: 1 }, "containers.compose: must be true or false, got 1"],
    [{ docker: false, compose: true }, "containers.compose: needs Docker Engine (docker: true); Compose drives the Docker daemon, got true"],
    [{ docker: false, dockerDataRoot: "/srv/docker" }, 'containers.dockerDataRoot: is Docker\'s data root, and docker is false, got "/srv/docker"'],
    [{ docker: false, logMaxFiles: 2 }, "containers.logMaxFiles: limits Docker's container logs, and docker is false, got 2"],
    [{ registryMirrors: { "Docker.IO": ["https://m.example.org"] } }, 'containers.registryMirrors["Docker.IO"]: must be keyed by a registry host like docker.io or registry.example.com:5000 (lowercase), or _default, got "Docker.IO"'],
    [{ registryMirrors: { "docker.io": ["ftp://m.example.org"] } }, 'containers.registryMirrors.docker.io[0]: must be an http:// or https:// URL without query or fragment, got "ftp://m.example.org"'],
    [{ registryMirrors: { "docker.io": [] } }, "containers.registryMirrors.docker.io: must name at least one mirror URL, got []"],
    [{ registryMirrors: { "docker.io": ["https://m.example.org/dockerhub"] } }, 'containers.registryMirrors["docker.io"][0]: Docker takes a Docker Hub mirror without a path (scheme://host[:port]), got "https://m.example.org/dockerhub"'],
    [{ registryMirrors: ["https://m.example.org"] }, "containers.registryMirrors: must map registry hosts to lists of mirror URLs"],
    [{ insecureRegistries: ["reg.local:70000"] }, 'containers.insecureRegistries[0]: must be a registry host[:port] (lowercase), reached over plain HTTP or unverified TLS, got "reg.local:70000"'],
    [{ insecureRegistries: ["http://reg.local"] }, 'containers.insecureRegistries[0]: must be a registry host[:port] (lowercase), reached over plain HTTP or unverified TLS, got "http://reg.local"'],
    [{ insecureRegistries: ["_default"] }, 'containers.insecureRegistries[0]: must name one registry (_default is only for registryMirrors), got "_default"'],
    [{ insecureRegistries: ["reg.local", "reg.local"] }, 'containers.insecureRegistries[1]: is listed twice, got "reg.local"'],
    [{ sandboxImage: "Pause 3.9" }, 'containers.sandboxImage: must be an image reference like registry.k8s.io/pause:3.10.1, got "Pause 3.9"'],
    [{ containerdRoot: "data/containerd" }, 'containers.containerdRoot: must be an absolute directory path (no spaces, no . or .. components, no trailing /), got "data/containerd"'],
    [{ dockerDataRoot: "/var/lib" }, 'containers.dockerDataRoot: is a system directory: use a directory of its own (e.g. /srv/docker), got "/var/lib"'],
    [{ dockerDataRoot: "/srv/../etc" }, 'containers.dockerDataRoot: must be an absolute directory path (no spaces, no . or .. components, no trailing /), got "/srv/../etc"'],
    [{ containerdRoot: "/srv/c", dockerDataRoot: "/srv/c/docker" }, 'containers.dockerDataRoot: must be apart from containerdRoot (/srv/c): the two daemons would share files, got "/srv/c/docker"'],
    [{ logMaxSize: "10MB" }, 'containers.logMaxSize: must be a size like 10m (k, m or g), got "10MB"'],
    [{ logMaxFiles: 0 }, "containers.logMaxFiles: must be an integer from 1 to 100, got 0"],
    [{ mirrors: {} }, "containers.mirrors: unknown field"],
  ])("rejects %j naming the field", (settings, message) => {
    expect(v(settings)).toThrow(message);
  });
  it("a node and the stack loader name the node's field, before anything is registered", async () => {
    mocks.reset();
    expect(() => new DebVisorNode("bad", { host, profile: "compute", containers: { docker: false, compose: true } })).toThrow("node.containers.compose: needs Docker Engine");
    expect(() => new DebVisorNode("bad2", { host, profile: "storage", containers: { docker: false } })).toThrow('node.containers: the node\'s profile "storage" has no containers layer');
    const cfg = validStackConfig();
    (cfg.nodes[0] as Record<string, unknown>).containers = { logMaxFiles: 0 };
    expect(() => loadStackConfig(cfg, { readFile: fakeFiles })).toThrow(/nodes\[0\]\.containers\.logMaxFiles: must be an integer from 1 to 100, got 0/);
    expect(await mocks.settle()).toEqual([]);
  });
});

describe("what the layer renders", () => {
  it("containerd's config.toml: CRI with systemd cgroups, the sandbox image, certs.d, parsed back as TOML", () => {
    const text = ctr.renderContainerdConfig({ sandboxImage: "registry.local:5000/pause:3.10.1", root: "/srv/containerd" });
    expect(text.split("\n")[0]).toMatch(/^# Managed by DebVisor/);
    const t = parseToml(text) as any;
    expect(t.version).toBe(2);
    expect(t.root).toBe("/srv/containerd");
    const cri = t.plugins["io.containerd.grpc.v1.cri"];
    expect(cri.sandbox_image).toBe("registry.local:5000/pause:3.10.1");
    expect(cri.containerd.runtimes.runc).toEqual({ runtime_type: "io.containerd.runc.v2", options: { SystemdCgroup: true } });
    expect(cri.registry).toEqual({ config_path: "/etc/containerd/certs.d" });
    expect(cri.cni).toEqual({ bin_dir: "/opt/cni/bin", conf_dir: "/etc/cni/net.d" });
    expect(t.plugins["io.containerd.internal.v1.opt"].path).toBe("/srv/containerd/opt");
    expect((parseToml(ctr.renderContainerdConfig({ sandboxImage: "p" })) as any).root).toBeUndefined();
  });
  it("hosts.toml per registry: mirrors first, an insecure registry over unverified TLS then plain HTTP; Docker Hub's upstream", () => {
    const files = ctr.renderRegistryHosts({ "docker.io": ["https://m1.example.org/", "http://m2.example.org:5000"], "reg.local:5000": ["https://m1.example.org/reg"], _default: ["https://m1.example.org"] }, ["reg.local:5000", "other.local"]);
    expect(Object.keys(files)).toEqual(["_default", "docker.io", "other.local", "reg.local:5000"]);
    const hub = parseToml(files["docker.io"]) as any;
    expect(hub.server).toBe("https://registry-1.docker.io");
    expect(Object.keys(hub.host)).toEqual(["https://m1.example.org", "http://m2.example.org:5000"]);
    expect(hub.host["https://m1.example.org"]).toEqual({ capabilities: ["pull", "resolve"] });
    const reg = parseToml(files["reg.local:5000"]) as any;
    expect(reg.server).toBe("http://reg.local:5000");
    expect(Object.entries(reg.host)).toEqual([
      ["https://m1.example.org/reg", { capabilities: ["pull", "resolve"] }],
      ["https://reg.local:5000", { capabilities: ["pull", "resolve", "push"], skip_verify: true }],
      ["http://reg.local:5000", { capabilities: ["pull", "resolve", "push"] }],
    ]);
    expect((parseToml(files._default) as any).server).toBeUndefined();
    // One parameter line per registry, the file base64-encoded (a hostile URL stays data).
    const encoded = ctr.encodeRegistryHosts({ "docker.io": "a'b\"c\n$(x)" });
    expect(encoded).toBe(`docker.io ${Buffer.from("a'b\"c\n$(x)\n").toString("base64")}`);
    expect(ctr.encodeRegistryHosts({})).toBe("");
  });
  it("daemon.json is JSON: systemd cgroups, log limits, live-restore, Docker Hub mirrors, insecure registries, data root", () => {
    const j = JSON.parse(ctr.renderDaemonJson({ registryMirrors: ["https://m1.example.org/"], insecureRegistries: ["reg.local:5000"], dataRoot: "/srv/docker", logMaxSize: "20m", logMaxFiles: 4 }));
    expect(j).toEqual({
      "exec-opts": ["native.cgroupdriver=systemd"], "log-driver": "json-file", "log-opts": { "max-size": "20m", "max-file": "4" }, "live-restore": true,
      "registry-mirrors": ["https://m1.example.org"], "insecure-registries": ["reg.local:5000"], "data-root": "/srv/docker",
    });
    expect(Object.keys(JSON.parse(ctr.renderDaemonJson({ logMaxSize: "10m", logMaxFiles: 3 })))).toEqual(["exec-opts", "log-driver", "log-opts", "live-restore"]);
  });
  it("pins every container package of the release in one apt preferences file, and holds them all", () => {
    const pin = ctr.renderAptPin("trixie");
    expect(pin).toContain("Package: containerd\nPin: version 1.7.24*\nPin-Priority: 1001");
    expect(pin).toContain("Package: docker-compose\nPin: version 2.26.1*\nPin-Priority: 1001");
    expect(ctr.renderAptPin("bookworm")).toContain("Package: docker.io\nPin: version 20.10.24*\nPin-Priority: 1001");
    expect(ctr.renderAptPin("bookworm")).not.toContain("docker-cli");
    expect(ctr.containersLayer.heldPackages).toEqual(["containerd", "containerd.io", "runc", "docker.io", "docker-compose", "docker-cli", "docker-buildx", "cri-tools"]);
  });
  it("kernel modules and sysctls, persisted", () => {
    expect(ctr.renderModulesConf().split("\n").slice(1)).toEqual(["overlay", "br_netfilter"]);
    expect(ctr.renderSysctlConf()).toContain("net.ipv4.ip_forward = 1\nnet.bridge.bridge-nf-call-iptables = 1");
    expect(ctr.kernelStep().params.DV_SYSCTLS).toBe("net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1");
  });
  it("per release: package names, versions checked, and how Compose runs", () => {
    const b = ctr.dockerStep({ release: "bookworm", compose: true, logMaxSize: "10m", logMaxFiles: 3 }).params;
    expect(b.DV_DOCKER_PACKAGES).toBe("docker.io docker-compose");
    expect(b.DV_DOCKER_VERSIONS).toBe("docker.io=20.10.24 docker-compose=1.29.2");
    expect(b.DV_COMPOSE_COMMAND).toBe("docker-compose");
    const t = ctr.dockerStep({ release: "trixie", compose: true, logMaxSize: "10m", logMaxFiles: 3 }).params;
    expect(t.DV_DOCKER_PACKAGES).toBe("docker.io docker-cli docker-buildx docker-compose");
    expect(t.DV_COMPOSE_COMMAND).toBe("docker compose");
    const n = ctr.dockerStep({ release: "trixie", compose: false, logMaxSize: "10m", logMaxFiles: 3 }).params;
    expect(n.DV_DOCKER_PACKAGES).toBe("docker.io docker-cli docker-buildx");
    expect(n.DV_COMPOSE_COMMAND).toBe("");
    expect(ctr.containerdStep({ release: "bookworm", sandboxImage: "p" }).params.DV_VERSIONS).toBe("containerd=1.6.20 runc=1.1.5");
    expect(ctr.containerdStep({ release: "bookworm", sandboxImage: "p" }).params.DV_REGISTRY_HOSTS).toBe("");
  });
});

describe("the layer under mocks", () => {
  let regs: Registration[];
  const reg = (n: string) => regs.find((r) => r.name === n)!;
  const stdin = (n: string) => reg(n).inputs.stdin as string;
  const partNames = (n: string) => [...stdin(n).matchAll(/^# --- part ([a-z0-9-]+): /gm)].map((m) => m[1]);
  const catalog = { ...DEFAULT_CATALOG, profiles: { ...DEFAULT_CATALOG.profiles, docker: ["base", "security", "containers"] } };

  it("registers one step after the layer before it, with its parts in order; swap goes only where Kubernetes comes", async () => {
    mocks.reset();
    new DebVisorNode("hc", { host, profile: "compute", base: { release: "trixie" }, containers: { registryMirrors: { "docker.io": ["https://m.example.org"] } } });
    new DebVisorNode("dk", { host: { ...host, address: "10.213.0.12" }, profile: "docker", catalog, containers: { docker: false } } as never);
    new DebVisorNode("st", { host: { ...host, address: "10.213.0.13" }, profile: "storage" });
    regs = [...(await mocks.settle())];
    expect(reg("hc-containers").type).toBe("debvisor:containers:ContainersHost");
    expect(parentName(reg("hc-containers"))).toBe("hc");
    expect(parentName(reg("hc-containers-apply"))).toBe("hc-containers");
    expect(reg("hc-containers").dependsOn).toEqual(["hc-network-confirm"]);
    expect(reg("hc-containers-apply").dependsOn).toEqual(["hc-network-confirm"]);
    expect(reg("dk-containers-apply").dependsOn).toEqual(["dk-security-apply"]);
    expect(partNames("hc-containers-apply")).toEqual(["kernel", "swap", "containerd", "crictl", "docker"]);
    expect(partNames("dk-containers-apply")).toEqual(["kernel", "containerd", "crictl"]);
    expect(regs.some((r) => r.name.startsWith("st-containers"))).toBe(false);
    // No part runs twice: each is recorded under the layer's name on the host.
    expect(stdin("hc-containers-apply")).toContain("dv_parts='/var/lib/debvisor/parts/containers'");
    expect(stdin("hc-containers-apply")).toContain("dv_part_due docker ");
  });
  it("feeds each part its own settings: the release's packages, the Docker Hub mirror to Docker, the others to containerd", () => {
    const docker = partText(stdin("hc-containers-apply"), "docker");
    expect(param(docker, "DV_DOCKER_PACKAGES")).toBe("docker.io docker-cli docker-buildx docker-compose");
    expect(JSON.parse(param(docker, "DV_DAEMON_JSON"))["registry-mirrors"]).toEqual(["https://m.example.org"]);
    const containerd = partText(stdin("hc-containers-apply"), "containerd");
    const hosts = param(containerd, "DV_REGISTRY_HOSTS").split("\n").map((l) => l.split(" "));
    expect(hosts.map((h) => h[0])).toEqual(["docker.io"]);
    expect(Buffer.from(hosts[0][1], "base64").toString()).toContain('[host."https://m.example.org"]');
    expect(param(containerd, "DV_CONFIG")).toContain("SystemdCgroup = true");
    // The default release (bookworm): Compose v1.
    expect(param(partText(stdin("dk-containers-apply"), "containerd"), "DV_PACKAGES")).toBe("containerd runc");
  });
  it("a changed setting changes exactly its own part", async () => {
    const parts = (s: object) => Object.fromEntries(ctr.containersParts({ release: "trixie", swapOff: true, ...s }).map((p) => [p.name, JSON.stringify(p.params)]));
    const a = parts({});
    const changed = (s: object) => Object.keys(a).filter((k) => parts(s)[k] !== a[k]);
    expect(changed({ logMaxFiles: 9 })).toEqual(["docker"]);
    expect(changed({ sandboxImage: "reg.local/pause:3.10.1" })).toEqual(["containerd"]);
    expect(changed({ registryMirrors: { "docker.io": ["https://m.example.org"] } })).toEqual(["containerd", "docker"]);
    expect(changed({ registryMirrors: { "ghcr.io": ["https://m.example.org"] } })).toEqual(["containerd"]);
  });
  it("a component of its own validates its settings first and registers nothing when they are bad", async () => {
    mocks.reset();
    const h = resolveHost(host);
    expect(() => new ctr.ContainersHost("x", { host: h, logMaxSize: "big" })).toThrow('containers.logMaxSize: must be a size like 10m (k, m or g), got "big"');
    new ctr.ContainersHost("y", { host: h, release: "bookworm" });
    const r = await mocks.settle();
    expect(r.map((x) => x.name).sort()).toEqual(["y", "y-apply"]);
  });
});

// CI runs shellcheck on every script as rendered (the script tier); the layer's step is
// one payload of five parts, whose parameters must not collide across parts either.
const hasShellcheck = spawnSync("shellcheck", ["--version"]).status === 0;
describe.skipIf(!hasShellcheck)("the layer's multi-part payload", () => {
  it.each(["bookworm", "trixie"] as const)("passes shellcheck as the host runs it (%s, every part)", async (release) => {
    const { renderPartsPayload } = await import("../../components/host/index.js");
    const payload = renderPartsPayload("containers", ctr.containersParts({
      release, swapOff: true, registryMirrors: { "docker.io": ["https://m.example.org"], _default: ["https://m.example.org"] }, insecureRegistries: ["reg.local:5000"],
    }));
    const r = spawnSync("shellcheck", ["-s", "bash", "-"], { input: payload, encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});
