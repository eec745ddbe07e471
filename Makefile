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

# The suites run twice: in release, as anomalyd ships, then in debug, where Kernels keeps the overflow checks and
# preconditions its -Ounchecked release build drops (every other target checks them in release too). The debug run
# leaves out the tests that push hundreds of 224x224 frames through the ViT-Ti teacher (the CLI and daemon suite,
# the refit scene, MKD training end to end): unoptimised kernels run the teacher ~70x slower (3.4 s per image),
# and the release run covers them.
# The test process gets the OpenBLAS kernels the binary settles on for this CPU (BLAS.useBestKernels re-executes
# the binary; an in-process test runner cannot do that for itself).
TEACHER_HEAVY_TESTS = --skip CLITests --skip RefitSceneTests \
	--skip 'MaskedDistillationTests/test(TrainingOnNormalScenes|FitWithTheChannelProfile|ADimmedScene)'
test: model
	export OPENBLAS_CORETYPE=$$($(BIN) inspect $(TEACHER) | sed -n 's/^OpenBLAS kernels: //p'); \
		swift test -c release --disable-swift-testing && \
		swift test --disable-swift-testing $(TEACHER_HEAVY_TESTS)

bench: model
	benchmarks/run.sh

clean:
	rm -rf .build models
