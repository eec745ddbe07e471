import Config
import Detector
import Engine

extension PipelineConfig {
    /// The settings that depend on the teacher's architecture, known only once its checkpoint is read. `check` and
    /// `run` both apply this one rule, so a student deeper than its teacher is a configuration error (exit 78), not a
    /// learning phase that fails on every restart.
    public func checkFits(teacher: ViTConfig, file: String) throws {
        do {
            _ = try detector.studentConfig(teacher: teacher)
        } catch let e as DetectorSettingsError {
            switch e {
            case .invalidSetting(let field, let reason):
                throw ConfigError(file: file, field: "pipelines.\(name).detector.\(field)", message: reason)
            case .studentDeeperThanTeacher(let depth, let teacherDepth):
                throw ConfigError(file: file, field: "pipelines.\(name).detector.student_depth",
                                  message: "\(depth) blocks, but the teacher \(self.teacher) has \(teacherDepth); "
                                      + "the student may be at most as deep as its teacher")
            }
        }
    }
}
