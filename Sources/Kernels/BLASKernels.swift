import CBLAS
import Glibc

extension BLAS {
    /// OpenBLAS picks its kernels when the library loads. Debian 12's 0.3.21 does not know CPUs released after it
    /// (Sapphire and Emerald Rapids among them) and falls back to its generic "Prescott" kernels, which ran the
    /// ViT-Ti teacher at 10.8 images/s on one core of an Emerald Rapids Xeon against 30.2 with AVX-512 kernels.
    /// Returns the kernel family to ask for instead, from the CPU's flags, or nil when OpenBLAS chose well.
    public static func kernelOverride(chosen: String, cpuFlags: Set<String>) -> String? {
        guard chosen.lowercased() == "prescott" else { return nil }
        if ["avx512f", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(cpuFlags.contains) { return "SkylakeX" }
        if ["avx2", "fma"].allSatisfy(cpuFlags.contains) { return "Haswell" }
        return nil
    }

    /// The flags of the first processor in /proc/cpuinfo.
    static func cpuFlags() -> Set<String>? {
        guard let f = fopen("/proc/cpuinfo", "r") else { return nil }
        defer { fclose(f) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, f) > 0, let line {
            let text = String(cString: line)
            guard text.hasPrefix("flags"), let colon = text.firstIndex(of: ":") else { continue }
            return Set(text[text.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
        }
        return nil
    }

    /// Re-executes this program with `OPENBLAS_CORETYPE` set when OpenBLAS fell back to generic kernels on a CPU
    /// that has AVX2 or AVX-512 (the variable is read only at load, hence the exec). Call it first thing in main,
    /// before any thread or descriptor matters. An explicit `OPENBLAS_CORETYPE` is always kept; if the exec fails
    /// the program goes on with the kernels it has.
    public static func useBestKernels() {
        guard getenv("OPENBLAS_CORETYPE") == nil, let flags = cpuFlags(),
              let core = kernelOverride(chosen: coreName, cpuFlags: flags) else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        unsetenv("OPENBLAS_CORETYPE")
    }
}
