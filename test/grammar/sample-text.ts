// A hand-written model in the textual IR that uses every feature of the format, in canonical form.
export const TEXT = `opset { ai.onnx: 17, com.microsoft: 1, "my domain": 2 }
model { ir_version: 8, producer: "hand", metadata: { author: "me", "key with space": "v" } }
graph main (f32[N,"p2o::Dyn 0",3] x, i64[*] idx, seq<f16[2]> s, opt<?> o, ? u, f32[3] b = f32[3] {0.5, -0, nan(0x7fc00001)}) => (f32[N,"p2o::Dyn 0",3] y, ? z) {
  w = f64[4] {0.1, -inf, inf, nan}
  big = i64[2] {-9223372036854775808, 9223372036854775807}
  ubig = u64[1] {18446744073709551615}
  flags = bool[2] {true, false}
  text = string[2] {"a\\"b\\\\c\\n", "\\u0000é#"}
  loose: f32[*] = f32[2] {1, 2}
  notype: ? = f32[] {0.1}
  t: f32[N,"p2o::Dyn 0",3] = Add<i=3, f=3.0, nf=-0.0, ei=ints[], ef=floats[], es=strings[], et=tensors[], eg=graphs[], ety=types[], l=[1, -2], lf=[1.5, 1e+21], ls=["x", ""], big=9223372036854776000, ty=type seq<f32[*]>, tys=[type opt<i8[]>, type bf16[2,M]]>(x, b) @"node one"
  a, _, c: i64[*] = com.microsoft.Split3(idx, _, idx)
  "my domain"."odd op"(a)
  y = If<then_branch=graph then (f32[3] x) => (f32[N,"p2o::Dyn 0",3] t2) {
    t2 = Identity(t)
  }, else_branch=graph () => (f32[N,"p2o::Dyn 0",3] t) {}>(flags)
  z = "graph"<v=f32[2] {1, 2}>(c) @"_"
}
`;

