import Config
import Decisions
import Ingest

extension PipelineConfig {
    /// The false-alarm budget's cut for this pipeline: its decision settings at the rate its frames are sampled.
    var budget: BudgetCut {
        BudgetCut(settings: decision, framesPerSecond: sourceOptions.sampleFPS ?? SourceOptions.configuredSampleFPS)
    }
}
