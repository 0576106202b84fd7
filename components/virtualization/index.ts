export * from "./libvirt.js";
export * from "./virtualization.js";
export * from "./vm.js";
export * from "./layer.js";
export * from "./schema.js";
