import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import { XMLBuilder } from "fast-xml-parser";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { RemoteStep, type ResolvedHost } from "../host/index.js";
import { checkSettings } from "../config/problems.js";
import { alreadyValidated } from "../config/trusted.js";
import { BRIDGE_NAME, DISK_FORMATS, DISK_NAME, FIRMWARES, HOSTNAME, IMAGE_PATH, LIBVIRT_NAME, MAC, VM_NAME, vmRules, vmSchema } from "./schema.js";

/** Firmware a VM boots with: `uefi` is OVMF (edk2), `bios` is SeaBIOS. */
export { FIRMWARES, DISK_FORMATS, VM_NAME, DISK_NAME, LIBVIRT_NAME, BRIDGE_NAME, IMAGE_PATH, MAC, HOSTNAME };
export type Firmware = (typeof FIRMWARES)[number];
/** Disk image formats: qcow2 for file pools (dir, fs, netfs), raw for block pools (logical, zfs). */
export type DiskFormat = (typeof DISK_FORMATS)[number];

/** One disk of a VM: a volume `<vm>-<disk>` in a libvirt storage pool, created when missing and never overwritten. */
export interface VmDisk {
  /** Disk name, unique within the VM: the volume is `<vm>-<name>.<format>`. */
  name: string;
  /** Size in GiB (a clone of `baseImage` is grown to this size; never shrunk). */
  sizeGiB: number;
  /** libvirt storage pool the volume lives in. @default "default" */
  pool?: string;
  /**
   * Absolute path on the host of a qcow2 or raw image to clone (a full copy, converted
   * to `format`: the VM never depends on the base image staying in place). Only used
   * when the volume is created. @default undefined (an empty disk)
   */
  baseImage?: string;
  /** Image format of the volume. @default "qcow2" */
  format?: DiskFormat;
}

/** A NIC: on a host bridge (e.g. br0) or on a libvirt network: exactly one of `bridge`, `network`. */
export interface VmNic {
  /** Host bridge to attach to (e.g. "br0"). */
  bridge?: string;
  /** libvirt network to attach to (e.g. "default"). */
  network?: string;
  /**
   * 802.1Q tag (1-4094), applied by libvirt (`<vlan><tag id=.../></vlan>`). libvirt
   * tags only ports of an Open vSwitch bridge (or a network with
   * `<virtualport type='openvswitch'/>`): on a plain Linux bridge the step stops with an
   * error before touching the VM; put the NIC on a bridge built on a VLAN interface
   * (e.g. br0 over eth0.20) instead. @default undefined (untagged)
   */
  vlan?: number;
  /** MAC address. @default derived from the VM name and the NIC's index (52:54:00:xx:xx:xx, stable) */
  mac?: string;
}

/** Cloud-init NoCloud seed: an ISO (volume label `cidata`) attached as a CD-ROM. */
export interface VmCloudInit {
  /** User data, a `#cloud-config` YAML document. @default "#cloud-config" with only the fields below */
  userData?: string;
  /** SSH public keys for the default user (merged into `ssh_authorized_keys`). @default [] */
  sshAuthorizedKeys?: string[];
  /** Guest host name (meta-data `local-hostname`). @default the VM name */
  hostname?: string;
}

/** One VM of the stack config `virtualization.vms[]`. */
export interface VmSettings {
  /** Domain name (letters, digits, `.`, `_`, `-`; starts with a letter or digit; at most 63). */
  name: string;
  /** Virtual CPUs. @default 1 */
  vcpus?: number;
  /** Memory in MiB. @default 1024 */
  memoryMiB?: number;
  /** Firmware: `uefi` (OVMF, secure boot off) or `bios` (SeaBIOS). @default "uefi" */
  firmware?: Firmware;
  /** Disks, in boot order (vda, vdb, ...). @default [] */
  disks?: VmDisk[];
  /** Cloud-init NoCloud seed (needs at least one disk: the ISO lives in the first disk's pool, which must be a directory pool). @default undefined (no seed) */
  cloudInit?: VmCloudInit;
  /** NICs (virtio). @default [] */
  nics?: VmNic[];
  /** Start the VM when libvirtd starts. @default true */
  autostart?: boolean;
  /** Keep the VM running: started when it is not (never stopped by DebVisor: `false` only leaves it alone). @default true */
  running?: boolean;
  /**
   * On destroy, seconds the guest gets to shut down after an ACPI power-button press
   * before it is powered off. @default 60
   */
  shutdownTimeoutSeconds?: number;
  /**
   * On destroy (or when the VM leaves the program), also delete its disk volumes, its
   * cloud-init seed and its UEFI variables. @default false (the domain is undefined,
   * its data is kept)
   */
  deleteDisksOnDestroy?: boolean;
}

export interface VirtualMachineArgs extends VmSettings {
  /** The virtualization host. */
  host: ResolvedHost;
  /** No KVM on the host: the domain runs under software emulation (type `qemu`, TCG) instead of `kvm`. @default false */
  emulation?: boolean;
  /** The host's RBD pools by libvirt pool name: a disk in one is attached as a network disk (QEMU's librbd). @default {} */
  rbdPools?: Record<string, RbdDiskSource>;
}

/** How QEMU reaches a disk in an RBD pool: the image's Ceph pool, the client and its libvirt secret (monitors: the host's ceph.conf). */
export interface RbdDiskSource {
  cephPool: string;
  client: string;
  secretUuid: string;
}

/** A VmSettings with every default applied. */
export interface ResolvedVm {
  name: string;
  vcpus: number;
  memoryMiB: number;
  firmware: Firmware;
  disks: { name: string; sizeGiB: number; pool: string; format: DiskFormat; baseImage?: string; rbd?: RbdDiskSource }[];
  cloudInit?: VmCloudInit;
  nics: { bridge?: string; network?: string; vlan?: number; mac: string }[];
  autostart: boolean;
  running: boolean;
  deleteDisksOnDestroy: boolean;
  shutdownTimeoutSeconds: number;
  emulation: boolean;
}

const SERIAL_LOG_DIR = "/var/log/libvirt/qemu";

/** Throws a ConfigError naming each bad field and its value (`virtualization.vms[0].firmware: ...`). */
export function validateVmSettings(vm: VmSettings, field = "vm"): void {
  checkSettings(vmSchema, vm, field, (v) => vmRules(v));
}

/** A stable locally administered MAC in QEMU's 52:54:00 range, from the VM name and NIC index. */
export function vmMac(vmName: string, index: number): string {
  const h = createHash("sha256").update(`${vmName}/${index}`).digest();
  return `52:54:00:${[h[0], h[1], h[2]].map((b) => b.toString(16).padStart(2, "0")).join(":")}`;
}

/** Defaults applied once. */
export function resolveVm(vm: VmSettings & { emulation?: boolean; rbdPools?: Record<string, RbdDiskSource> }): ResolvedVm {
  return {
    name: vm.name,
    vcpus: vm.vcpus ?? 1,
    memoryMiB: vm.memoryMiB ?? 1024,
    firmware: vm.firmware ?? "uefi",
    disks: (vm.disks ?? []).map((d) => {
      const rbd = vm.rbdPools?.[d.pool ?? "default"];
      // RBD images are raw (QEMU reads them through librbd; qcow2 on top buys nothing).
      return { name: d.name, sizeGiB: d.sizeGiB, pool: d.pool ?? "default", format: d.format ?? (rbd ? "raw" : "qcow2"), ...(d.baseImage ? { baseImage: d.baseImage } : {}), ...(rbd ? { rbd } : {}) };
    }),
    ...(vm.cloudInit ? { cloudInit: vm.cloudInit } : {}),
    nics: (vm.nics ?? []).map((n, i) => ({
      ...(n.bridge !== undefined ? { bridge: n.bridge } : { network: n.network }),
      ...(n.vlan !== undefined ? { vlan: n.vlan } : {}),
      mac: n.mac ?? vmMac(vm.name, i),
    })),
    autostart: vm.autostart ?? true,
    running: vm.running ?? true,
    deleteDisksOnDestroy: vm.deleteDisksOnDestroy ?? false,
    shutdownTimeoutSeconds: vm.shutdownTimeoutSeconds ?? 60,
    emulation: vm.emulation ?? false,
  };
}

/** The volume name of a disk: `<vm>-<disk>.<format>`. */
export const diskVolume = (vm: string, d: { name: string; format: DiskFormat }) => `${vm}-${d.name}.${d.format}`;
/** The volume name of the cloud-init seed ISO. */
export const seedVolume = (vm: string) => `${vm}-seed.iso`;
/** Where the serial console is logged (by virtlogd, appended across boots). */
export const serialLogPath = (vm: string) => `${SERIAL_LOG_DIR}/${vm}-serial.log`;

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: "@_", format: true, indentBy: "  ", suppressEmptyNode: true });

/**
 * The libvirt domain XML. Only what DebVisor decides is rendered; libvirt fills in the
 * rest (uuid, addresses, controllers), and the step compares this as a subset of
 * `virsh dumpxml --inactive`. Machine q35 for both firmwares; the serial console is a pty
 * (`virsh console` works) whose output virtlogd also appends to `serialLogPath`.
 */
export function renderDomainXml(vm: ResolvedVm): string {
  const letters = "abcdefghijklmnopqrstuvwxyz";
  const os: Record<string, unknown> = {
    ...(vm.firmware === "uefi" ? { "@_firmware": "efi" } : {}),
    type: { "@_arch": "x86_64", "@_machine": "q35", "#text": "hvm" },
    // Secure boot off: the firmware that runs is plain OVMF, whatever descriptors the host ships.
    ...(vm.firmware === "uefi"
      ? { firmware: { feature: [{ "@_enabled": "no", "@_name": "enrolled-keys" }, { "@_enabled": "no", "@_name": "secure-boot" }] } }
      : { bios: { "@_useserial": "yes" } }),
    boot: { "@_dev": "hd" },
  };
  // A disk in an RBD pool is a network disk: libvirt cannot attach RBD pool volumes by
  // pool and volume name; QEMU takes the monitors from the host's ceph.conf.
  const disks: Record<string, unknown>[] = vm.disks.map((d, i) => ({
    "@_type": d.rbd ? "network" : "volume",
    "@_device": "disk",
    driver: { "@_name": "qemu", "@_type": d.format, "@_discard": "unmap" },
    ...(d.rbd ? { auth: { "@_username": d.rbd.client, secret: { "@_type": "ceph", "@_uuid": d.rbd.secretUuid } } } : {}),
    source: d.rbd ? { "@_protocol": "rbd", "@_name": `${d.rbd.cephPool}/${diskVolume(vm.name, d)}` } : { "@_pool": d.pool, "@_volume": diskVolume(vm.name, d) },
    target: { "@_dev": `vd${letters[i]}`, "@_bus": "virtio" },
  }));
  if (vm.cloudInit && vm.disks.length > 0) {
    disks.push({
      "@_type": "volume",
      "@_device": "cdrom",
      driver: { "@_name": "qemu", "@_type": "raw" },
      source: { "@_pool": vm.disks[0].pool, "@_volume": seedVolume(vm.name) },
      target: { "@_dev": "sda", "@_bus": "sata" },
      readonly: "",
    });
  }
  const interfaces = vm.nics.map((n) => ({
    "@_type": n.bridge !== undefined ? "bridge" : "network",
    mac: { "@_address": n.mac },
    source: n.bridge !== undefined ? { "@_bridge": n.bridge } : { "@_network": n.network },
    ...(n.vlan !== undefined ? { vlan: { tag: { "@_id": String(n.vlan) } } } : {}),
    model: { "@_type": "virtio" },
  }));
  const log = { "@_file": serialLogPath(vm.name), "@_append": "on" };
  const domain = {
    "@_type": vm.emulation ? "qemu" : "kvm",
    name: vm.name,
    memory: { "@_unit": "KiB", "#text": String(vm.memoryMiB * 1024) },
    vcpu: String(vm.vcpus),
    os,
    features: { acpi: "", apic: "" },
    ...(vm.emulation ? {} : { cpu: { "@_mode": "host-passthrough" } }),
    devices: {
      ...(disks.length ? { disk: disks } : {}),
      ...(interfaces.length ? { interface: interfaces } : {}),
      serial: { "@_type": "pty", log, target: { "@_port": "0" } },
      console: { "@_type": "pty", log, target: { "@_type": "serial", "@_port": "0" } },
    },
  };
  // suppressEmptyNode turns the "" of marker elements (<acpi/>, <readonly/>) into empty tags.
  return builder.build({ domain }).trimEnd();
}

/** NoCloud meta-data. */
export function renderMetaData(vm: ResolvedVm): string {
  return stringifyYaml({ "instance-id": vm.name, "local-hostname": vm.cloudInit?.hostname ?? vm.name });
}

/** NoCloud user-data: the given #cloud-config with the SSH keys and host name merged in. */
export function renderUserData(vm: ResolvedVm): string {
  const ci = vm.cloudInit ?? {};
  const doc = ((ci.userData ? parseYaml(ci.userData) : null) ?? {}) as Record<string, unknown>;
  const keys = ci.sshAuthorizedKeys ?? [];
  if (keys.length) {
    const existing = Array.isArray(doc.ssh_authorized_keys) ? (doc.ssh_authorized_keys as string[]) : [];
    doc.ssh_authorized_keys = [...existing, ...keys.filter((k) => !existing.includes(k))];
  }
  if (ci.hostname !== undefined && doc.hostname === undefined) doc.hostname = ci.hostname;
  return `#cloud-config\n${Object.keys(doc).length ? stringifyYaml(doc) : ""}`.trimEnd();
}

/** Disk lines for the step: `pool<TAB>volume<TAB>format<TAB>sizeGiB<TAB>baseImage`. */
export function renderDiskList(vm: ResolvedVm): string {
  return vm.disks.map((d) => [d.pool, diskVolume(vm.name, d), d.format, String(d.sizeGiB), d.baseImage ?? ""].join("\t")).join("\n");
}

/** VLAN-tagged NICs for the step's pre-flight check: `bridge <name> <tag>` or `network <name> <tag>`. */
export function renderVlanList(vm: ResolvedVm): string {
  return vm.nics.filter((n) => n.vlan !== undefined).map((n) => (n.bridge !== undefined ? `bridge ${n.bridge} ${n.vlan}` : `network ${n.network} ${n.vlan}`)).join("\n");
}

const STEP_TIMEOUT = 1800;

/** The parameters of the VM step (`virtualization/vm.sh`). */
export function vmStepParams(vm: ResolvedVm): Record<string, string> {
  return {
    DV_NAME: vm.name,
    DV_XML: renderDomainXml(vm),
    DV_FIRMWARE: vm.firmware,
    DV_DISKS: renderDiskList(vm),
    DV_SEED_POOL: vm.cloudInit && vm.disks.length ? vm.disks[0].pool : "",
    DV_SEED_VOLUME: vm.cloudInit ? seedVolume(vm.name) : "",
    DV_USER_DATA: vm.cloudInit ? renderUserData(vm) : "",
    DV_META_DATA: vm.cloudInit ? renderMetaData(vm) : "",
    DV_VLANS: renderVlanList(vm),
    DV_AUTOSTART: vm.autostart ? "yes" : "no",
    DV_RUNNING: vm.running ? "yes" : "no",
    DV_DELETE_DISKS: vm.deleteDisksOnDestroy ? "yes" : "no",
    DV_SHUTDOWN_WAIT: String(vm.shutdownTimeoutSeconds),
    DV_SERIAL_LOG: serialLogPath(vm.name),
    // Part of the payload so that any change of the step's trigger changes the payload
    // (the delete of a replaced step recognizes that a newer one owns the VM).
  };
}

/**
 * One libvirt domain on a virtualization host: its disk volumes (created when missing,
 * empty or cloned from a base image), a cloud-init NoCloud seed, the domain definition
 * (redefined only when what DebVisor renders differs from libvirt's), autostart and
 * running state. On delete the domain is stopped and undefined; its disks are kept
 * unless `deleteDisksOnDestroy`.
 */
export class VirtualMachine extends pulumi.ComponentResource {
  /** The domain step: later resources depend on this. */
  readonly ready: pulumi.Resource;
  /** The domain name. */
  readonly domainName: string;
  /** The rendered domain XML. */
  readonly domainXml: string;
  /** Path of the serial console log on the host. */
  readonly serialLog: string;

  constructor(name: string, args: VirtualMachineArgs, opts?: pulumi.ComponentResourceOptions) {
    // Validate before super(): bad input must register nothing.
    if (!alreadyValidated(args)) {
      const { host: _h, emulation: _e, ...settings } = args;
      validateVmSettings(settings, "vm");
    }
    super("debvisor:virtualization:VirtualMachine", name, {}, opts);
    const vm = resolveVm(args);
    this.domainName = vm.name;
    this.serialLog = serialLogPath(vm.name);
    const params = vmStepParams(vm);
    this.domainXml = params.DV_XML;
    const step = new RemoteStep(`${name}-domain`, { host: args.host, script: "virtualization/vm.sh", params, timeoutSeconds: STEP_TIMEOUT, runOnDelete: true }, { parent: this });
    this.ready = step.command;
    this.registerOutputs({ domainName: this.domainName, serialLog: this.serialLog });
  }
}
