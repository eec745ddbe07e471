# The two commands the README gives: `make demo` (main job) and `make test`. Both do all their set-up.
SWIFT_BUILD = swift build -c release
BIN = .build/release/anomalyd
TEACHER = models/vit_tiny_patch16_224.augreg_in21k_ft_in1k.safetensors
SAMPLES = ../shared/data/imagenet-samples

.PHONY: setup build demo test bench clean

setup:
	scripts/install-deps.sh

build: setup
	$(SWIFT_BUILD)

$(TEACHER): build
	scripts/fetch-model.sh $(BIN)

model: build
	scripts/fetch-model.sh $(BIN)

demo: model
	scripts/demo.sh

# The test process gets the OpenBLAS kernels the binary settles on for this CPU (BLAS.useBestKernels re-executes
# the binary; an in-process test runner cannot do that for itself).
test: model
	OPENBLAS_CORETYPE=$$($(BIN) inspect $(TEACHER) | sed -n 's/^OpenBLAS kernels: //p') \
		swift test -c release --disable-swift-testing

bench: model
	benchmarks/run.sh

clean:
	rm -rf .build models
