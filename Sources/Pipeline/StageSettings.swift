import Config
import Decisions
import Detector
import Ingest

/// Each stage's own settings, derived from a validated pipeline configuration.
extension PipelineConfig {
    public var sourceOptions: SourceOptions {
        var o = SourceOptions()
        o.resize = resize == "crop" ? .crop : .squash
        o.sampleFPS = sampleFps
        o.nativeRate = realtime
        o.loop = loop
        o.rtspTransport = rtspTransport
        o.stallTimeout = stallTimeoutS
        return o
    }

    public var detectorSettings: DetectorSettings {
        var s = DetectorSettings()
        if let d = detector {
            s.studentDepth = d.studentDepth ?? s.studentDepth
            s.epochs = d.epochs ?? s.epochs
            s.learningRate = d.learningRate.map(Float.init) ?? s.learningRate
            s.maskRatio = d.maskRatio ?? s.maskRatio
            s.holdout = d.holdout ?? s.holdout
            s.thresholdQuantile = d.thresholdQuantile ?? s.thresholdQuantile
            s.seed = d.seed ?? s.seed
            // The loader accepted only these enums' raw values.
            s.gaussianFeature = d.gaussianFeature.flatMap(GaussianFeature.init(rawValue:)) ?? s.gaussianFeature
            s.gaussianCovariance = d.gaussianCovariance.flatMap(GaussianCovariance.init(rawValue:)) ?? s.gaussianCovariance
            s.varianceKept = d.varianceKept ?? s.varianceKept
            s.studentScore = d.studentScore.flatMap(StudentScore.init(rawValue:)) ?? s.studentScore
        }
        return s
    }

    public var decisionSettings: DecisionSettings {
        var s = DecisionSettings()
        if let d = decision {
            s.sensitivity = d.sensitivity ?? s.sensitivity
            s.framesToStart = d.framesToStart ?? s.framesToStart
            s.framesToEnd = d.framesToEnd ?? s.framesToEnd
            s.maxDurationSeconds = d.maxDurationS ?? s.maxDurationSeconds
            s.updateIntervalSeconds = d.updateIntervalS ?? s.updateIntervalSeconds
        }
        return s
    }
}
