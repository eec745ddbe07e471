import Foundation
import XCTest

final class TeacherCommandTests: XCTestCase {
    func samplePhotos() throws -> [(file: String, classIndex: Int)] {
        let tsv = try String(contentsOf: CLI.samples.appendingPathComponent("expected.tsv"), encoding: .utf8)
        return tsv.split(separator: "\n").dropFirst().map { line in
            let f = line.split(separator: "\t")
            return (String(f[0]), Int(f[1])!)
        }
    }

    /// The real ViT-Ti teacher names the true class of at least 16 of the 17 sample photos.
    func testClassifyFindsTrueClassOfSamplePhotos() throws {
        let photos = try samplePhotos()
        XCTAssertEqual(photos.count, 17)
        let r = try CLI.run(["classify", "--teacher", CLI.teacher, "--resize", "crop", "--json",
                             "--labels", CLI.samples.appendingPathComponent("labels.txt").path]
                            + photos.map { CLI.samples.appendingPathComponent($0.file).path })
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 17)
        var correct = 0
        for (line, photo) in zip(lines, photos) {
            let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            XCTAssertTrue((obj["file"] as! String).hasSuffix(photo.file))
            let top = obj["top"] as! [[String: Any]]
            XCTAssertEqual(top.count, 5)
            if top[0]["class"] as! Int == photo.classIndex { correct += 1 }
        }
        XCTAssertGreaterThanOrEqual(correct, 16, r.stdout)
    }

    /// `embed` writes a float32 .npy that NumPy reads, [N, 192] for CLS and [N, 197, 192] with --tokens,
    /// and the CLS rows are the first token rows.
    func testEmbedWritesNpyThatNumPyReads() throws {
        let photos = try samplePhotos().prefix(3).map { CLI.samples.appendingPathComponent($0.file).path }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("anomalyd-embed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let cls = dir.appendingPathComponent("cls.npy").path, tok = dir.appendingPathComponent("tok.npy").path
        var r = try CLI.run(["embed", "--teacher", CLI.teacher, "--output", cls] + photos)
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try CLI.run(["embed", "--teacher", CLI.teacher, "--tokens", "--output", tok] + photos)
        XCTAssertEqual(r.status, 0, r.stderr)
        let check = """
        import sys, numpy as np
        a = np.load(sys.argv[1]); t = np.load(sys.argv[2])
        assert a.dtype == np.float32 and a.shape == (3, 192), (a.dtype, a.shape)
        assert t.shape == (3, 197, 192), t.shape
        assert np.array_equal(a, t[:, 0, :])
        assert np.all(np.isfinite(a)) and a.std() > 0.1
        # Different photos give different features.
        assert np.abs(a[0] - a[1]).max() > 0.1
        print("ok")
        """
        let py = try CLI.python(check, [cls, tok])
        XCTAssertEqual(py.status, 0, py.stderr)
        XCTAssertEqual(py.stdout, "ok\n")
    }

    func testCorruptCheckpointGivesClearErrorNamingTheFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("anomalyd-bad-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("broken.safetensors").path
        _ = FileManager.default.createFile(atPath: bad, contents: Data([1, 2, 3]))
        let r = try CLI.run(["inspect", bad])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("broken.safetensors"), r.stderr)
        XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr)
    }

    func testInspectPrintsTeacherArchitecture() throws {
        let r = try CLI.run(["inspect", CLI.teacher])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("width 192, depth 12, heads 3"), r.stdout)
        XCTAssertTrue(r.stdout.contains("5717416 parameters"), r.stdout)
    }

    /// Debian 12's OpenBLAS falls back to generic kernels on CPUs newer than itself; the binary then re-executes
    /// itself with kernels for the CPU's vector units. With no OPENBLAS_CORETYPE, the kernels it reports must not
    /// be the generic ones on a CPU with AVX2; an explicit choice is kept as it is.
    func testBinaryRunsKernelsForThisCPU() throws {
        var env = ProcessInfo.processInfo.environment
        env["OPENBLAS_CORETYPE"] = nil
        let r = try CLI.run(["inspect", CLI.teacher], environment: env)
        XCTAssertEqual(r.status, 0, r.stderr)
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let line = try XCTUnwrap(r.stdout.split(separator: "\n").first { $0.hasPrefix("OpenBLAS kernels: ") }, r.stdout)
        if cpuinfo.contains(" avx2 ") {
            XCTAssertNotEqual(line, "OpenBLAS kernels: Prescott", "generic kernels on a CPU with AVX2")
        }
        env["OPENBLAS_CORETYPE"] = "Prescott"
        let pinned = try CLI.run(["inspect", CLI.teacher], environment: env)
        XCTAssertTrue(pinned.stdout.contains("OpenBLAS kernels: Prescott"), pinned.stdout)
    }

    /// FastPath runs the widest kernels the CPU has (AVX-512, else AVX2 with FMA, else none: OpenBLAS);
    /// ANOMALYD_KERNELS=avx2 and =blas narrow the choice, never widen it.
    func testInspectReportsFastPathKernels() throws {
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let flagsLine = try XCTUnwrap(cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") })
        let flags = Set(flagsLine.split(separator: " ").map(String.init))
        let none = "none (OpenBLAS)"
        let best = flags.isSuperset(of: ["avx512f", "fma"]) ? "avx512" : flags.isSuperset(of: ["avx2", "fma"]) ? "avx2" : none
        var env = ProcessInfo.processInfo.environment
        for (setting, expected) in [(nil, best), ("avx2", best == none ? none : "avx2"), ("blas", none)] {
            env["ANOMALYD_KERNELS"] = setting
            let r = try CLI.run(["inspect", CLI.teacher], environment: env)
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.contains("FastPath kernels: \(expected)\n"), "\(setting ?? "unset"): \(r.stdout)")
        }
    }

    /// The GEMM's precision: fp32 unless ANOMALYD_PRECISION=bf16 (int8) asks on a CPU with AVX512_BF16 (AVX512_VNNI)
    /// running the AVX-512 kernels; never more than the CPU (or the kernels ANOMALYD_KERNELS picks) has.
    func testInspectReportsPrecision() throws {
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let flagsLine = try XCTUnwrap(cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") })
        let flags = Set(flagsLine.split(separator: " ").map(String.init))
        let fast = flags.isSuperset(of: ["avx2", "fma"])
        let bf16 = flags.isSuperset(of: ["avx512f", "fma", "avx512_bf16"])
        let int8 = flags.isSuperset(of: ["avx512f", "fma", "avx512_vnni"])
        let fp32 = fast ? "fp32" : "fp32 (OpenBLAS)"
        var env = ProcessInfo.processInfo.environment
        for (kernels, precision, expected) in [(nil, nil, fp32), (nil, "fp32", fp32), (nil, "bf16", bf16 ? "bf16" : fp32),
                                               (nil, "int8", int8 ? "int8" : fp32), ("avx2", "int8", fp32),
                                               ("avx2", "bf16", fp32), ("blas", "bf16", "fp32 (OpenBLAS)")] {
            env["ANOMALYD_KERNELS"] = kernels
            env["ANOMALYD_PRECISION"] = precision
            let r = try CLI.run(["inspect", CLI.teacher], environment: env)
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.contains("FastPath precision: \(expected) ("), "\(kernels ?? "-") \(precision ?? "-"): \(r.stdout)")
        }
    }
}
