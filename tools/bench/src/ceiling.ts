/**
 * The matrix-product ceiling: GFLOP/s of one big float32 MatMul in onnxruntime with the same thread setting as
 * the refiner. The ONNX model (C = A · B, n × n) is written here byte by byte: four protobuf messages are less
 * than a dependency on an ONNX builder.
 */
import { OnnxModel, type SessionOptions } from '@diffusevae/models';

const enc = new TextEncoder();

function varint(n: number): number[] {
  const out: number[] = [];
  for (; n > 127; n = Math.floor(n / 128)) out.push((n % 128) | 128);
  out.push(n);
  return out;
}

/** a length-delimited field (wire type 2): strings and embedded messages */
const bytesField = (no: number, payload: Uint8Array | number[]) => [...varint((no << 3) | 2), ...varint(payload.length), ...payload];
const intField = (no: number, v: number) => [...varint(no << 3), ...varint(v)];
const str = (no: number, s: string) => bytesField(no, enc.encode(s));

/** ValueInfoProto of a float tensor [n, n] */
function floatMatrix(name: string, n: number): number[] {
  const dim = bytesField(1, intField(1, n)); // TensorShapeProto.dim { dim_value }
  const tensorType = [...intField(1, 1), ...bytesField(2, [...dim, ...dim])]; // elem_type FLOAT, shape
  return [...str(1, name), ...bytesField(2, bytesField(1, tensorType))];
}

export function matMulModel(n: number): Uint8Array {
  const node = [...str(1, 'A'), ...str(1, 'B'), ...str(2, 'C'), ...str(4, 'MatMul')];
  const graph = [...bytesField(1, node), ...str(2, 'ceiling'), ...bytesField(11, floatMatrix('A', n)), ...bytesField(11, floatMatrix('B', n)), ...bytesField(12, floatMatrix('C', n))];
  const opset = [...str(1, ''), ...intField(2, 13)];
  return Uint8Array.from([...intField(1, 8), ...str(2, 'diffusevae-bench'), ...bytesField(7, graph), ...bytesField(8, opset)]);
}

/** Best of `runs` timed products of two n × n matrices (2n³ FLOP each), in GFLOP/s. */
export async function matMulCeiling(session: SessionOptions, n = 1024, runs = 5): Promise<number> {
  // one session on every core: the machine's peak (instances would split A and B alike on their first axis)
  const model = await OnnxModel.create('matmul ceiling', matMulModel(n), { ...session, instances: 1 });
  try {
    const feed = { data: Float32Array.from({ length: n * n }, (_, i) => ((i % 97) - 48) / 97), shape: [n, n] };
    await model.run({ A: feed, B: feed });
    let best = Infinity;
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      await model.run({ A: feed, B: feed });
      best = Math.min(best, performance.now() - t0);
    }
    return (2 * n ** 3) / (best / 1000) / 1e9;
  } finally {
    await model.release();
  }
}
