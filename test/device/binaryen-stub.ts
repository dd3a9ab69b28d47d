// Stands in for binaryen in the device bundle (test/device/prepare.sh): the CUDA path never builds WASM, and
// binaryen is 15 MB of the 64 MiB a device check may carry. Module-level tables that read binaryen's constants
// still load (every property is another stub, numeric where a number is needed); calling anything throws.
// A plain function (not an arrow), so `new binaryen.Module()` reaches the construct trap.
function unavailable(): never {
  throw new Error('binaryen is not in the device bundle: the wasm backend is not available in the device check');
}
const handler: ProxyHandler<() => never> = {
  get: (_t, p) => (p === Symbol.toPrimitive ? () => 0 : p === 'then' ? undefined : stub),
  apply: unavailable,
  construct: unavailable,
};
const stub: unknown = new Proxy(unavailable, handler);
export default stub;
