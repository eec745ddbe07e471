#!/usr/bin/env python3
"""ONNX Runtime and OpenVINO peers of the anomalyd ViT engine.

vit_torch.py's model (same checkpoint, same forward) is exported to ONNX (dynamic batch, opset 18) once, and
again only when the checkpoint, vit_torch.py or torch changes. Before timing, each runtime's final tokens and
logits are checked against PyTorch's on the same random batch.

  python3 benchmarks/vit_peers.py --teacher PATH --batch 1 8 --threads 1 2 --seconds 10 [--onnx out/bench/vit_tiny.onnx]

Output, one JSON line each:
  {"check":"onnxruntime"|"openvino","batch":b,"tokens_max_abs_diff":...,"logits_max_abs_diff":...,...}
  {"impl":"onnxruntime","mode":"intra-op","threads":t,"batch":b,"images_per_s":...,"gflops":...,"gflop_per_image":...}
  {"impl":"openvino","mode":"latency"|"2-requests",...}
"latency" is one stream and one request with INFERENCE_NUM_THREADS t; "2-requests" is OpenVINO's throughput
configuration at batch 1 (run when --threads has 2): two streams of one thread each, kept busy by an async
queue of two requests.
"""

import hashlib
import json
import os
import sys
import time

import numpy as np
import onnxruntime as ort
import openvino as ov
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vit_torch import ViT, bench_arguments, read_safetensors  # noqa: E402  (the one definition of the model)

OPSET = 18
CHECK_BATCH = 4
# Largest accepted difference from PyTorch, relative to the largest magnitude in that output. Float32 forwards that
# only order their sums differently stay within a few 1e-5 of it (ViT-Ti's final tokens, values up to 21: ONNX
# Runtime 8e-6, OpenVINO 2e-5); a real deviation is far above it: tanh GELU for erf moves the tokens by 1e-2 of
# it, and bf16 arithmetic (OpenVINO's default on CPUs with AMX or AVX-512 BF16) rounds every value by up to 4e-3.
TOLERANCE = 2e-4


class Exported(torch.nn.Module):
    """The forward as a Module for the exporter: final-LN tokens (what the detector reads) and logits."""

    def __init__(self, vit):
        super().__init__()
        self.vit = vit

    def forward(self, x):
        _, tokens, _, logits, _ = self.vit.forward(x)
        return tokens, logits


def export(vit, teacher, path):
    """Exports to path unless it already holds this checkpoint under this model code and torch (a content key
    beside it: a checkpoint swapped in under the same name, even with an older mtime, is exported again)."""
    digest = hashlib.sha256(torch.__version__.encode())
    for source in (teacher, os.path.join(os.path.dirname(os.path.abspath(__file__)), "vit_torch.py")):
        with open(source, "rb") as f:
            digest.update(f.read())
    key_path = path + ".sha256"
    if os.path.exists(path) and os.path.exists(key_path) and open(key_path).read() == digest.hexdigest():
        return
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    # A batch of 2 at export so that the batch dimension is not specialised to 1.
    example = torch.zeros(2, 3, vit.image_size, vit.image_size)
    with torch.inference_mode():
        torch.onnx.export(Exported(vit).eval(), (example,), path, input_names=["images"],
                          output_names=["tokens", "logits"], opset_version=OPSET, verbose=False,
                          dynamic_shapes={"x": {0: torch.export.Dim("batch")}}, external_data=False)
    with open(key_path, "w") as f:
        f.write(digest.hexdigest())
    print(f"exported {path}", file=sys.stderr)


def emit(record):
    print(json.dumps(record, separators=(",", ":")), flush=True)


def check(name, outputs, reference, batch):
    record = {"check": name, "batch": batch}
    for key, got, want in zip(("tokens", "logits"), outputs, reference):
        scale = float(np.abs(want).max())
        diff = float(np.abs(got - want).max())
        record[key + "_max_abs_diff"] = diff
        record[key + "_max_abs"] = round(scale, 3)
        if diff > TOLERANCE * scale:
            emit(record)
            raise SystemExit(f"vit_peers: {name} {key} differ from PyTorch by {diff:.3g}, "
                             f"more than {TOLERANCE:g} x {scale:.3g}")
    emit(record)


def timed(run, inputs, seconds, drain=lambda: None):
    """Calls run(input) over a few distinct inputs (made before, so making them is not timed) for `seconds`
    after a warm-up, as vit_torch.py does; drain() waits for work still in flight. Returns calls per second."""
    warm_until = time.perf_counter() + min(2.0, max(0.5, seconds / 5))
    while time.perf_counter() < warm_until:
        run(inputs[0])
    drain()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        run(inputs[count % len(inputs)])
        count += 1
    drain()
    return count / (time.perf_counter() - start)


def report(impl, mode, threads, batch, calls_per_s, flop):
    rate = calls_per_s * batch
    emit({"impl": impl, "mode": mode, "threads": threads, "batch": batch, "images_per_s": round(rate, 3),
          "gflops": round(rate * flop, 3), "gflop_per_image": round(flop, 4)})


def onnxruntime_session(path, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def openvino_model(core, path, shape, config):
    # Fixed to the shape it will run: OpenVINO plans its kernels and memory per static shape.
    model = core.read_model(path)
    model.reshape({"images": shape})
    # f32 explicitly: on CPUs with AMX or AVX-512 BF16 the plugin's default precision is bf16.
    return core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32", **config})


def latency_config(threads):
    return {"PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": "1", "INFERENCE_NUM_THREADS": str(threads)}


def main():
    parser = bench_arguments(__doc__)
    parser.add_argument("--onnx", default="out/bench/vit_tiny.onnx", help="where the exported model is kept")
    args = parser.parse_args()

    vit = ViT(read_safetensors(args.teacher))
    export(vit, args.teacher, args.onnx)
    flop = vit.gflop_per_image()
    size = vit.image_size
    rng = np.random.default_rng(0)
    batch_of = lambda b: rng.random((b, 3, size, size), dtype=np.float32) * 2 - 1
    sample = batch_of(CHECK_BATCH)
    with torch.inference_mode():
        _, tokens, _, logits, _ = vit.forward(torch.from_numpy(sample))
    reference = (tokens.numpy(), logits.numpy())

    session = onnxruntime_session(args.onnx, max(args.threads))
    check("onnxruntime", session.run(None, {"images": sample}), reference, CHECK_BATCH)
    core = ov.Core()
    compiled = openvino_model(core, args.onnx, sample.shape, latency_config(max(args.threads)))
    result = compiled.create_infer_request().infer({0: sample})
    check("openvino", (result[0], result[1]), reference, CHECK_BATCH)

    for threads in args.threads:
        for batch in args.batch:
            inputs = [batch_of(batch) for _ in range(4)]
            session = onnxruntime_session(args.onnx, threads)
            report("onnxruntime", "intra-op", threads, batch,
                   timed(lambda x: session.run(None, {"images": x}), inputs, args.seconds), flop)
            request = openvino_model(core, args.onnx, inputs[0].shape, latency_config(threads)).create_infer_request()
            report("openvino", "latency", threads, batch,
                   timed(lambda x: request.infer({0: x}), inputs, args.seconds), flop)

    if 2 in args.threads:
        # Throughput configuration: two single-threaded streams, each serving one of two in-flight requests (the
        # engine's two independent streams at batch 1).
        inputs = [batch_of(1) for _ in range(4)]
        compiled = openvino_model(core, args.onnx, inputs[0].shape,
                                  {"PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": "2", "INFERENCE_NUM_THREADS": "2"})
        queue = ov.AsyncInferQueue(compiled, 2)
        # start_async blocks while both requests are busy, so the loop runs at the pair's completion rate.
        report("openvino", "2-requests", 2, 1,
               timed(lambda x: queue.start_async({0: x}), inputs, args.seconds, queue.wait_all), flop)

if __name__ == "__main__":
    main()
