import { describe, expect, it } from "vitest";
import { installMocks } from "../support/mocks.js";
import { fakeFiles, validStackConfig } from "../support/fixtures.js";

await installMocks();
const { loadStackConfig } = await import("../../stacks/index.js");
const k8s = await import("../../components/kubernetes/index.js");
const { ipv4Overlaps, ipv4Contains, ipv4Network } = await import("../../components/kubernetes/net.js");

/** A 3-node lab stack (10.213.0.12-14), its hosts' subnet known from the cluster networks. */
function stack(n = 3): any {
  const c = validStackConfig(n);
  c.defaults.security = { clusterNetworks: ["10.213.0.0/24"] };
  return c;
}
const load = (c: any) => loadStackConfig(c, { readFile: fakeFiles });
const problems = (c: any): string => {
  try {
    load(c);
    return "";
  } catch (e) {
    return (e as Error).message;
  }
};
const threeControlPlanes = (c: any) => {
  c.defaults.kubernetes = { role: "controlPlane", controlPlaneEndpoint: { address: "10.213.0.10" } };
  return c;
};

describe("kubernetes settings: accepted", () => {
  it("takes the defaults: the first node is the one control plane, no VIP needed", () => {
    const args = load(stack());
    expect(args.nodes).toHaveLength(3);
    expect(k8s.kubernetesRoles(args.nodes.map((x) => ({ settings: x.kubernetes ?? {} })))).toEqual(["controlPlane", "worker", "worker"]);
    const r = k8s.resolveKubernetes({});
    expect(r).toMatchObject({ version: k8s.KUBERNETES_VERSION, podCidr: "10.244.0.0/16", serviceCidr: "10.96.0.0/12", clusterName: "debvisor", reclaimPolicy: "Retain", charts: true });
    expect(r.calico).toEqual({ encapsulation: "VXLAN", bgp: false, interface: "br0" });
    expect(r.csi).toEqual({ cephRbd: true, cephFs: true, zfsPools: [] });
    expect(r.chartSources.tigeraOperator).toEqual(k8s.CHARTS.tigeraOperator);
  });
  it("takes three control planes with a VIP in their subnet, a mirror and chart overrides", () => {
    const c = threeControlPlanes(stack());
    Object.assign(c.defaults.kubernetes, {
      imageRepository: "registry.example.org:5000/k8s",
      dnsImageTag: "v1.14.3",
      calico: { bgp: true, encapsulation: "None", interface: "bond0" },
      csi: { zfsPools: ["tank", "fast"] },
      charts: false,
      chartSources: { tigeraOperator: { repository: "/srv/charts/tigera-operator-v3.31.5.tgz" }, cephCsiRbd: { version: "3.17.1", repository: "oci://registry.example.org/charts" } },
    });
    expect(problems(c)).toBe("");
    const r = k8s.resolveKubernetes(load(c).nodes[0].kubernetes);
    expect(r.controlPlaneEndpoint).toEqual({ address: "10.213.0.10", port: 6443, mode: "keepalived", interface: "br0" });
    expect(r.chartSources.cephCsiRbd).toEqual({ chart: "ceph-csi-rbd", version: "3.17.1", repository: "oci://registry.example.org/charts" });
  });
  it("takes the VIP's subnet from the bridge's address when it is static", () => {
    const c = validStackConfig(1);
    c.defaults.kubernetes = { controlPlaneEndpoint: { address: "10.213.0.10" } };
    c.nodes[0].network = { bridge: { address: "10.213.0.12/24", gateway: "10.213.0.1" } };
    expect(problems(c)).toBe("");
  });
  it("takes a pod range carved from a wider site network", () => {
    const c = stack();
    c.defaults.security.clusterNetworks = ["10.0.0.0/8"];
    expect(problems(c)).toBe("");
  });
  it("ignores nodes without the kubernetes layer", () => {
    const c = stack();
    c.nodes[0].profile = "storage";
    c.nodes[1].kubernetes = { role: "worker" };
    c.nodes[2].kubernetes = { role: "controlPlane" };
    expect(problems(c)).toBe("");
  });
});

/** Each invalid setting, and the field and value its error must name: every rule can fail. */
const INVALID: [string, (c: any) => void, RegExp, number?][] = [
  ["unknown field", (c) => (c.defaults.kubernetes = { podCIDR: "10.1.0.0/16" }), /defaults\.kubernetes\.podCIDR: unknown field/],
  ["bad role", (c) => (c.nodes[1].kubernetes = { role: "master" }), /nodes\[1\]\.kubernetes\.role: must be controlPlane or worker, got "master"/],
  ["bad version", (c) => (c.defaults.kubernetes = { version: "1.34.4" }), /defaults\.kubernetes\.version: must be a Kubernetes version like v1\.34\.4, got "1\.34\.4"/],
  ["too old for v1beta4", (c) => (c.defaults.kubernetes = { version: "v1.29.3" }), /defaults\.kubernetes\.version: must be v1\.31 or later.*got "v1\.29\.3"/],
  ["pod CIDR with host bits", (c) => (c.defaults.kubernetes = { podCidr: "10.244.1.0/16" }), /defaults\.kubernetes\.podCidr: host bits set.*got "10\.244\.1\.0\/16"/],
  ["pod CIDR too small", (c) => (c.defaults.kubernetes = { podCidr: "10.244.0.0/26" }), /defaults\.kubernetes\.podCidr: must be an IPv4 network in CIDR form \(\/8 to \/24\)/],
  ["pod CIDR not a CIDR", (c) => (c.defaults.kubernetes = { podCidr: "10.244.0.0" }), /defaults\.kubernetes\.podCidr: must be an IPv4 network/],
  ["pod CIDR overlapping the service CIDR", (c) => (c.defaults.kubernetes = { podCidr: "10.96.0.0/16" }),
    /defaults\.kubernetes\.podCidr: overlaps the service network 10\.96\.0\.0\/12.*got "10\.96\.0\.0\/16"/],
  ["service CIDR overlapping the pod CIDR", (c) => (c.defaults.kubernetes = { serviceCidr: "10.244.0.0/20" }),
    /defaults\.kubernetes\.serviceCidr: overlaps the pod network 10\.244\.0\.0\/16.*got "10\.244\.0\.0\/20"/],
  ["pod CIDR overlapping the hosts' network", (c) => (c.defaults.kubernetes = { podCidr: "10.213.0.0/16" }),
    /nodes\[0\]\.kubernetes\.podCidr: overlaps the hosts' network 10\.213\.0\.0\/24 \(nodes\[0\]\.security\.clusterNetworks\[0\]\).*got "10\.213\.0\.0\/16"/],
  ["pod CIDR holding a node's address (no cluster networks)", (c) => { delete c.defaults.security; c.defaults.kubernetes = { podCidr: "10.213.0.0/24" }; },
    /nodes\[0\]\.kubernetes\.podCidr: overlaps the hosts' network 10\.213\.0\.12\/32 \(nodes\[0\]\.address\)/],
  ["pod CIDR overlapping a bridge's subnet", (c) => { delete c.defaults.security; c.nodes[2].network = { bridge: { address: "10.213.0.14/24" } }; c.defaults.kubernetes = { podCidr: "10.213.0.0/24" }; },
    /podCidr: overlaps the hosts' network 10\.213\.0\.0\/24 \(nodes\[2\]\.network\.bridge\.address\)/],
  ["service CIDR holding a node's address", (c) => (c.defaults.kubernetes = { serviceCidr: "10.213.0.0/24" }),
    /nodes\[0\]\.kubernetes\.serviceCidr: holds the address of a host \(nodes\[0\]\.address and 2 more\).*got "10\.213\.0\.0\/24"/],
  ["two control planes", (c) => { c.nodes[0].kubernetes = { role: "controlPlane" }; c.nodes[1].kubernetes = { role: "controlPlane" }; c.defaults.kubernetes = { controlPlaneEndpoint: { address: "10.213.0.10" } }; },
    /nodes\[1\]\.kubernetes\.role: 2 control planes \(nodes\[0\], nodes\[1\]\): etcd needs an odd number/],
  ["four control planes", (c) => (c.defaults.kubernetes = { role: "controlPlane", controlPlaneEndpoint: { address: "10.213.0.10" } }),
    /nodes\[3\]\.kubernetes\.role: 4 control planes/, 4],
  ["a worker-only cluster", (c) => (c.defaults.kubernetes = { role: "worker" }),
    /nodes\[0\]\.kubernetes\.role: no control plane: every node with the kubernetes layer is a worker/],
  ["several control planes without a VIP", (c) => (c.defaults.kubernetes = { role: "controlPlane" }),
    /nodes\[0\]\.kubernetes\.controlPlaneEndpoint: required with 3 control planes/],
  ["a VIP outside the hosts' subnet", (c) => threeControlPlanes(c).defaults.kubernetes.controlPlaneEndpoint.address = "10.214.0.10",
    /nodes\[0\]\.kubernetes\.controlPlaneEndpoint\.address: not inside the subnet of control plane nodes\[0\] \(10\.213\.0\.0\/24\).*got "10\.214\.0\.10"/],
  ["a VIP whose subnet cannot be told", (c) => { threeControlPlanes(c); delete c.defaults.security; },
    /controlPlaneEndpoint\.address: cannot check the VIP against the subnet of control plane nodes\[0\] \(10\.213\.0\.12\)/],
  ["a VIP equal to a node's address", (c) => (threeControlPlanes(c).defaults.kubernetes.controlPlaneEndpoint.address = "10.213.0.13"),
    /nodes\[0\]\.kubernetes\.controlPlaneEndpoint\.address: is the address of nodes\[1\]: the VIP must be an address no node has, got "10\.213\.0\.13"/],
  ["a VIP equal to a node's address on a node without kubernetes", (c) => { threeControlPlanes(c); c.nodes.push({ name: "s1", address: "10.213.0.10", hostKeyFile: "/lab/hostkeys/s1.pub", profile: "storage" }); },
    /nodes\[0\]\.kubernetes\.controlPlaneEndpoint\.address: is the address of nodes\[3\]: the VIP must be an address no node has/],
  ["a VIP equal to a bridge address", (c) => { threeControlPlanes(c); c.nodes[1].network = { bridge: { ports: ["eth1"], address: "10.213.0.10/24" } }; },
    /controlPlaneEndpoint\.address: is the bridge address of nodes\[1\]/],
  ["a VIP on the subnet's broadcast address", (c) => (threeControlPlanes(c).defaults.kubernetes.controlPlaneEndpoint.address = "10.213.0.255"),
    /controlPlaneEndpoint\.address: is the network or broadcast address of 10\.213\.0\.0\/24/],
  ["a VIP inside the service network", (c) => { c.defaults.security.clusterNetworks = ["10.0.0.0/8"]; threeControlPlanes(c).defaults.kubernetes.controlPlaneEndpoint.address = "10.96.0.10"; },
    /controlPlaneEndpoint\.address: inside the service network, got "10\.96\.0\.10"/],
  ["a bad VIP", (c) => (c.defaults.kubernetes = { controlPlaneEndpoint: { address: "10.213.0.300" } }), /defaults\.kubernetes\.controlPlaneEndpoint\.address: not an IPv4 address, got "10\.213\.0\.300"/],
  ["a bad VIP mode", (c) => (c.defaults.kubernetes = { controlPlaneEndpoint: { address: "10.213.0.10", mode: "metallb" } }), /controlPlaneEndpoint\.mode: must be keepalived or kube-vip, got "metallb"/],
  ["a bad API port", (c) => (c.defaults.kubernetes = { controlPlaneEndpoint: { address: "10.213.0.10", port: 70000 } }), /controlPlaneEndpoint\.port: must be an integer from 1 to 65535, got 70000/],
  ["settings that differ between nodes", (c) => (c.nodes[2].kubernetes = { podCidr: "10.250.0.0/16" }),
    /nodes\[2\]\.kubernetes\.podCidr: differs from nodes\[0\]\.kubernetes\.podCidr \(not set\): one cluster has one podCidr; set it in defaults\.kubernetes, got "10\.250\.0\.0\/16"/],
  ["IPIP without BGP", (c) => (c.defaults.kubernetes = { calico: { encapsulation: "IPIP" } }), /defaults\.kubernetes\.calico\.encapsulation: IPIP routes pod traffic through BGP: set calico\.bgp: true/],
  ["no encapsulation without BGP", (c) => (c.defaults.kubernetes = { calico: { encapsulation: "None", bgp: false } }), /calico\.encapsulation: None routes pod traffic through BGP/],
  ["a bad encapsulation", (c) => (c.defaults.kubernetes = { calico: { encapsulation: "vxlan" } }), /calico\.encapsulation: must be one of VXLAN, VXLANCrossSubnet, IPIP, IPIPCrossSubnet, None, got "vxlan"/],
  ["a bad autodetection interface", (c) => (c.defaults.kubernetes = { calico: { interface: "br0|eth.*" } }), /calico\.interface: not an interface name, got "br0\|eth\.\*"/],
  ["a ZFS pool twice", (c) => (c.defaults.kubernetes = { csi: { zfsPools: ["tank", "tank"] } }), /defaults\.kubernetes\.csi\.zfsPools\[1\]: listed twice, got "tank"/],
  ["a bad ZFS pool name", (c) => (c.defaults.kubernetes = { csi: { zfsPools: ["1tank"] } }), /csi\.zfsPools\[0\]: not a ZFS pool name, got "1tank"/],
  ["a bad image repository", (c) => (c.defaults.kubernetes = { imageRepository: "https://registry.example.org/k8s" }), /imageRepository: must be an image repository like registry\.example\.org:5000\/k8s/],
  ["a bad CoreDNS tag", (c) => (c.defaults.kubernetes = { dnsImageTag: "v1.14.3 " }), /dnsImageTag: not an image tag/],
  ["a bad chart version", (c) => (c.defaults.kubernetes = { chartSources: { tigeraOperator: { version: "latest" } } }), /chartSources\.tigeraOperator\.version: must be a chart version like 3\.17\.0 or v3\.31\.5, got "latest"/],
  ["a bad chart repository", (c) => (c.defaults.kubernetes = { chartSources: { zfsLocalpv: { repository: "charts/zfs" } } }), /chartSources\.zfsLocalpv\.repository: must be an https:\/\/ repository, an oci:\/\/ reference or an absolute path/],
  ["an unknown chart", (c) => (c.defaults.kubernetes = { chartSources: { cilium: {} } }), /chartSources\.cilium: unknown field/],
  ["a bad reclaim policy", (c) => (c.defaults.kubernetes = { reclaimPolicy: "Recycle" }), /reclaimPolicy: must be Retain or Delete, got "Recycle"/],
  ["charts not a boolean", (c) => (c.defaults.kubernetes = { charts: "no" }), /defaults\.kubernetes\.charts: must be true or false, got "no"/],
  ["kubernetes settings on a node without the layer", (c) => { c.nodes[0].profile = "storage"; c.nodes[0].kubernetes = { role: "worker" }; }, /nodes\[0\]\.kubernetes/],
];

describe("kubernetes settings: refused before anything is registered, naming the field", () => {
  it.each(INVALID)("%s", (_name, mutate, expected, n) => {
    const c = stack(n ?? 3);
    mutate(c);
    expect(problems(c)).toMatch(expected);
  });
  it("reports one line for a shared default, not one per node", () => {
    const c = stack();
    c.defaults.kubernetes = { podCidr: "10.213.0.0/16" };
    expect(problems(c).match(/podCidr: overlaps/g)).toHaveLength(1);
  });
  it("the same rules guard the components (DebVisorCluster args)", async () => {
    const { validateDebVisorClusterArgs } = await import("../../components/cluster.js");
    const args = load(stack());
    args.nodes.forEach((n) => (n.kubernetes = { role: "worker" }));
    expect(() => validateDebVisorClusterArgs(args)).toThrow(/cluster\.nodes\[0\]\.kubernetes\.role: no control plane/);
    args.nodes.forEach((n) => (n.kubernetes = { podCidr: "10.96.0.0/16" }));
    expect(() => validateDebVisorClusterArgs(args)).toThrow(/cluster\.nodes\[0\]\.kubernetes\.podCidr: overlaps the service network/);
  });
});

describe("IPv4 helpers", () => {
  it("overlap, containment and networks", () => {
    expect(ipv4Overlaps("10.244.0.0/16", "10.96.0.0/12")).toBe(false);
    expect(ipv4Overlaps("10.96.0.0/16", "10.96.0.0/12")).toBe(true);
    expect(ipv4Overlaps("10.0.0.0/8", "10.213.0.12")).toBe(true);
    expect(ipv4Contains("10.213.0.0/24", "10.213.0.255")).toBe(true);
    expect(ipv4Contains("10.213.0.0/24", "10.213.1.0")).toBe(false);
    expect(ipv4Network("10.213.0.12/24")).toBe("10.213.0.0/24");
    expect(ipv4Network("192.168.1.130/25")).toBe("192.168.1.128/25");
  });
});
