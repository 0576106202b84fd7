export * from "./libvirt.js";
export * from "./virtualization.js";
export * from "./vm.js";
