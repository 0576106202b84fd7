import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderCommand, renderPartsPayload } from "../../components/host/index.js";
import { CONTAINER_PACKAGES, containersParts } from "../../components/containers/index.js";
import type { DebianRelease } from "../../components/base/index.js";
import { LAB_DIR, lab, ok, recordFigures, run, vmsUp } from "./support.js";

// The containers layer on a real kernel (a lab VM: the container hosts cannot load
// modules, and runc cannot make cgroups there): the layer's step, rendered by its
// builder as the engine sends it, runs twice (the second run applies no part); then two
// images built on the VM from nothing but a busybox binary (no registry), a Compose
// project of two services where one fetches from the other by service name, crictl
// against the same containerd that runs Docker's containers, and a reboot after which the
// project is back on its own. Run beside the container hosts (they are left alone);
// DEBVISOR_VM_KEEP=1 keeps the VM (and what the layer installed) for the next run.
const VM = "v1";
const STEP = "vm-containers-apply";
const PROJECT = "dvdemo";
const DIR = "/srv/dvdemo";
const CRICTL_MODULE = "sigs.k8s.io/cri-tools/cmd/crictl@v1.34.0";
const figures: Record<string, number | string> = {};
let restore: () => Promise<void> = async () => {};
let release: DebianRelease;
let compose: string;

const sh = (cmd: string) => lab.out(VM, cmd);
const must = async (cmd: string, what: string) => (await ok(lab.sh(VM, cmd), what)).stdout.trim();
const seconds = (t0: number) => Math.round((Date.now() - t0) / 1000);

function parts() {
  return containersParts({
    release, swapOff: true,
    registryMirrors: { "docker.io": ["https://mirror.lab.invalid:5000"], "registry.k8s.io": ["https://mirror.lab.invalid:5000/k8s"] },
    insecureRegistries: ["registry.lab.invalid:5000"],
  });
}
/** The step as the engine runs it: the payload on stdin, the command line the Command gets. */
const runStep = () => run("ssh", ["-F", `${LAB_DIR}/ssh_config`, `root@${VM}`, renderCommand("root", 3600, STEP)], { input: renderPartsPayload("containers", parts()) });
/** Copies a (binary) file of this machine to the VM. */
const sendFile = (local: string, remote: string) =>
  ok(run("bash", ["-c", `ssh -F "$1" root@${VM} "install -m 755 /dev/stdin ${remote}" <"$2"`, "send", `${LAB_DIR}/ssh_config`, local]), `${local} to ${VM}:${remote}`);
const changes = (out: string) => out.split("\n").filter((l) => l.startsWith("@changed"));

/**
 * A static busybox from the VM's own release (downloaded and unpacked there, not
 * installed): the images' only file. (Another release's static busybox will not do: its
 * wget crashed resolving a service name in a scratch image.)
 */
async function busybox(dir: string): Promise<void> {
  await must(`cd ${dir} && rm -f busybox-static_*.deb && apt-get download -q busybox-static >&2 && rm -rf bb && dpkg-deb -x busybox-static_*.deb bb && install -m 755 "$(ls bb/usr/bin/busybox bb/bin/busybox 2>/dev/null | head -n 1)" busybox && rm -rf bb busybox-static_*.deb`, "busybox-static from the VM's release");
}

/** crictl from the Go module proxy (Debian has no cri-tools), built once per machine. */
async function crictl(): Promise<string> {
  const dir = join(tmpdir(), "debvisor-crictl-v1.34.0");
  const bin = join(dir, "crictl");
  if (!existsSync(bin)) {
    await ok(run("bash", ["-c", `GOBIN=${dir} CGO_ENABLED=0 go install ${CRICTL_MODULE}`]), `go install ${CRICTL_MODULE}`);
  }
  return bin;
}

const DOCKERFILE = (cmd: string[], extra = "") => [
  "FROM scratch",
  "COPY busybox /bin/busybox",
  'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
  extra,
  `CMD ${JSON.stringify(cmd)}`,
].filter((l) => l !== "").join("\n");
const WEB = DOCKERFILE(["httpd", "-f", "-v", "-p", "8080", "-h", "/www"], 'RUN mkdir -p /www && echo "hello from the web service" >/www/index.html\nEXPOSE 8080');
const CLIENT = DOCKERFILE(["sh", "-c", "while true; do if body=$(wget -q -T 5 -O - http://web:8080/); then echo \"fetched: $body\"; else echo 'fetch failed'; fi; sleep 5; done"]);
const COMPOSE = `name: ${PROJECT}
services:
  web:
    image: ${PROJECT}-web:1
    restart: unless-stopped
  client:
    image: ${PROJECT}-client:1
    restart: unless-stopped
    depends_on: [web]
`;

/** The client's log lines since `since` (an RFC 3339 time on the VM's clock). */
const clientLog = (since: string) => sh(`cd ${DIR} && ${compose} logs --no-color --since ${since} client 2>&1 | tail -n 5`);

/** Waits until the client logged a fetch since `since`. */
async function fetchedSince(since: string, timeoutSeconds = 180): Promise<string> {
  let log = "";
  for (let t = 0; t < timeoutSeconds; t += 5) {
    log = await clientLog(since);
    if (log.includes("fetched: hello from the web service")) return log;
    await new Promise((r) => setTimeout(r, 5000));
  }
  throw new Error(`the client fetched nothing from web since ${since}:\n${log}`);
}

describe.sequential("VM tier: the containers layer (containerd, crictl, Docker Engine + Compose)", () => {
  beforeAll(async () => {
    // Beside the running fleet and VM tier as they are: the same options do not restart the VM.
    const up = await vmsUp(["--vms", "1", "--vm-memory", "2048"]);
    restore = up.restore;
    figures.labUpSeconds = Math.round(up.seconds);
    release = (await sh(". /etc/os-release && echo $VERSION_CODENAME")) as DebianRelease;
    compose = CONTAINER_PACKAGES[release].composeCommand;
  });
  afterAll(async () => {
    // The demo project goes; what the layer installed stays (a kept VM is a converged node).
    await lab.sh(VM, `cd ${DIR} 2>/dev/null && ${compose} down --rmi all >/dev/null 2>&1; rm -rf ${DIR}; swapoff /swapfile.dvtest 2>/dev/null; rm -f /swapfile.dvtest; sed -i '/swapfile.dvtest/d' /etc/fstab; true`);
    recordFigures("containers", figures);
    await restore();
  });

  it("runs the layer's step: kernel, swap off for good, containerd, crictl config, Docker + Compose; the second run applies no part", async () => {
    // Swap on, in fstab, as a fresh install may have it: the swap part turns it off for good
    // (its record goes, so it runs again on a VM converged before).
    await must([
      "swapoff /swapfile.dvtest 2>/dev/null || true",
      "[ -f /swapfile.dvtest ] || { fallocate -l 64M /swapfile.dvtest && chmod 600 /swapfile.dvtest && mkswap /swapfile.dvtest >/dev/null; }",
      "swapon /swapfile.dvtest",
      "sed -i '/swapfile.dvtest/d' /etc/fstab && echo '/swapfile.dvtest none swap sw 0 0' >>/etc/fstab",
      "systemctl unmask swap.target swapfile.dvtest.swap >/dev/null 2>&1; systemctl daemon-reload",
      "rm -f /var/lib/debvisor/parts/containers/swap",
    ].join(" && "), "swap on");
    expect(await sh("tail -n +2 /proc/swaps | wc -l")).toBe("1");

    let t0 = Date.now();
    const first = await ok(runStep(), "the containers step, first run");
    figures.firstRunSeconds = seconds(t0);
    figures.firstRunChanges = changes(first.stdout).length;
    expect(changes(first.stdout)).toEqual(expect.arrayContaining(["@changed swap turned off", "@changed commented out swap in /etc/fstab"]));
    t0 = Date.now();
    const second = await ok(runStep(), "the containers step, second run");
    figures.secondRunSeconds = seconds(t0);
    expect(changes(second.stdout)).toEqual([]);
    const names = parts().map((p) => p.name);
    expect(names).toEqual(["kernel", "swap", "containerd", "crictl", "docker"]);
    expect(await sh(`journalctl -q -t debvisor -o cat --no-pager | grep '^part containers/' | tail -n ${names.length}`))
      .toBe(names.map((p) => `part containers/${p} skipped: applied already`).join("\n"));
    expect((await sh("ls /var/lib/debvisor/parts/containers")).split("\n")).toEqual([...names].sort());

    // What the parts left on the host.
    expect(await sh("tail -n +2 /proc/swaps | wc -l")).toBe("0");
    expect(await sh("grep swapfile.dvtest /etc/fstab")).toBe("#debvisor# /swapfile.dvtest none swap sw 0 0");
    expect(await sh("systemctl is-enabled swap.target || true")).toBe("masked");
    expect(await sh("lsmod | awk '$1 == \"overlay\" || $1 == \"br_netfilter\" {print $1}' | sort")).toBe("br_netfilter\noverlay");
    expect(await sh("sysctl -n net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables")).toBe("1\n1\n1");
    const toml = await sh("cat /etc/containerd/config.toml");
    expect(toml).toContain("SystemdCgroup = true");
    expect(toml).toContain('config_path = "/etc/containerd/certs.d"');
    expect(await sh("cat /etc/containerd/certs.d/registry.k8s.io/hosts.toml")).toContain('[host."https://mirror.lab.invalid:5000/k8s"]');
    expect(await sh("cat '/etc/containerd/certs.d/registry.lab.invalid:5000/hosts.toml'")).toContain('server = "http://registry.lab.invalid:5000"');
    const daemon = JSON.parse(await sh("cat /etc/docker/daemon.json"));
    expect(daemon).toMatchObject({ "exec-opts": ["native.cgroupdriver=systemd"], "registry-mirrors": ["https://mirror.lab.invalid:5000"], "insecure-registries": ["registry.lab.invalid:5000"] });
    expect(await sh("docker info --format '{{.CgroupDriver}} {{.LiveRestoreEnabled}}'")).toBe("systemd true");
    // dockerd runs on the system containerd: one containerd for Docker and Kubernetes.
    expect(await sh("systemctl show -p ExecStart docker.service")).toContain("--containerd=/run/containerd/containerd.sock");
    expect(await sh("iptables -S FORWARD | head -n 1")).toBe("-P FORWARD ACCEPT"); // ip_forward was on before dockerd started
    // Pinned and held.
    const pinned = [...CONTAINER_PACKAGES[release].containerd, ...CONTAINER_PACKAGES[release].docker, ...CONTAINER_PACKAGES[release].compose];
    for (const p of pinned) expect(await sh(`dpkg-query -W -f='\${Version}' ${p.name}`), p.name).toMatch(new RegExp(`^${p.version.replace(/\./g, "\\.")}[~+-]`));
    expect(await sh("apt-cache policy containerd")).toMatch(/\*\*\* \S+ 1001/); // the installed version, pinned
    figures.release = release;
    figures.versions = pinned.map((p) => `${p.name} ${p.version}`).join(", ");
  });

  it("builds two images locally and runs a Compose project whose client fetches from its web service by name", async () => {
    await must(`rm -rf ${DIR} && mkdir -p ${DIR}/web ${DIR}/client`, "project dir");
    await busybox(DIR);
    await must(`cp ${DIR}/busybox ${DIR}/web/ && cp ${DIR}/busybox ${DIR}/client/`, "busybox into both build contexts");
    await ok(lab.sh(VM, `cat >${DIR}/web/Dockerfile`, WEB), "web Dockerfile");
    await ok(lab.sh(VM, `cat >${DIR}/client/Dockerfile`, CLIENT), "client Dockerfile");
    await ok(lab.sh(VM, `cat >${DIR}/compose.yaml`, COMPOSE), "compose.yaml");
    expect(await sh(`${DIR}/web/busybox echo ok`)).toBe("ok");

    let t0 = Date.now();
    await must(`docker build -q -t ${PROJECT}-web:1 ${DIR}/web && docker build -q -t ${PROJECT}-client:1 ${DIR}/client`, "docker build");
    figures.buildSeconds = seconds(t0);
    const since = await sh("date -u +%Y-%m-%dT%H:%M:%SZ");
    t0 = Date.now();
    await must(`cd ${DIR} && ${compose} up -d`, "compose up");
    figures.composeUpSeconds = seconds(t0);
    t0 = Date.now();
    expect(await fetchedSince(since)).toContain("fetched: hello from the web service");
    figures.firstFetchSeconds = seconds(t0);
    expect((await sh(`cd ${DIR} && ${compose} ps --services --filter status=running | sort`))).toBe("client\nweb");
    // By name over the project's own network, not the default bridge.
    expect(await sh(`docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}' ${PROJECT}-client-1`)).toBe(`${PROJECT}_default`);
  });

  it("crictl talks to the same containerd, which runs Docker's containers too", async () => {
    if ((await lab.sh(VM, "command -v crictl")).code !== 0) {
      // No cri-tools in Debian: the layer configures crictl, the binary comes from the
      // Kubernetes layer's apt repository on a real site, from the Go module proxy here.
      await sendFile(await crictl(), "/usr/local/bin/crictl");
    }
    expect(await sh("cat /etc/crictl.yaml")).toContain("runtime-endpoint: unix:///run/containerd/containerd.sock");
    const info = JSON.parse(await must("crictl info", "crictl info"));
    const ready = Object.fromEntries(info.status.conditions.map((c: { type: string; status: boolean }) => [c.type, c.status]));
    expect(ready.RuntimeReady).toBe(true); // NetworkReady waits for a CNI (the Kubernetes layer's Calico)
    expect(info.config.containerd.runtimes.runc.options.SystemdCgroup).toBe(true);
    expect(info.config.sandboxImage).toBe("registry.k8s.io/pause:3.10.1");
    expect(info.config.registry.configPath).toBe("/etc/containerd/certs.d");
    await must("crictl ps -a", "crictl ps");
    await must("crictl images", "crictl images");
    const docker = (await sh("docker ps -q --no-trunc | sort")).split("\n");
    expect((await sh("ctr -n moby containers ls -q | sort")).split("\n")).toEqual(expect.arrayContaining(docker));
  });

  it("comes back after a reboot: modules, sysctls, swap off, and the Compose project running again on its own", async () => {
    // The VM may be shared with another tier's run: no reboot under a step of someone else's.
    for (let t = 0; (await lab.sh(VM, "pgrep -f '^bash /run/debvisor-step\\.'")).code === 0; t += 10) {
      if (t > 1800) throw new Error("another step kept running on v1 for 30 minutes: not rebooting under it");
      await new Promise((r) => setTimeout(r, 10_000));
    }
    const bootBefore = await sh("cat /proc/sys/kernel/random/boot_id");
    const t0 = Date.now();
    await ok(lab.cmd("restart", VM), "lab restart v1");
    figures.rebootSeconds = seconds(t0);
    expect(await sh("cat /proc/sys/kernel/random/boot_id")).not.toBe(bootBefore);
    const booted = await sh("date -u -d \"$(uptime -s)\" +%Y-%m-%dT%H:%M:%SZ");
    const t1 = Date.now();
    expect(await fetchedSince(booted)).toContain("fetched: hello from the web service");
    figures.fetchAfterBootSeconds = seconds(t1);
    expect((await sh(`cd ${DIR} && ${compose} ps --services --filter status=running | sort`))).toBe("client\nweb");
    expect(await sh("lsmod | awk '$1 == \"overlay\" || $1 == \"br_netfilter\" {print $1}' | sort")).toBe("br_netfilter\noverlay");
    expect(await sh("sysctl -n net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables")).toBe("1\n1");
    expect(await sh("tail -n +2 /proc/swaps | wc -l")).toBe("0");
    expect(await sh("systemctl is-active containerd docker")).toBe("active\nactive");
    // And the step, run again after the reboot, still has nothing to do.
    expect(changes((await ok(runStep(), "the containers step after the reboot")).stdout)).toEqual([]);
  });
});
